"""Backprop Lab's engine: the layers of Deep Learning from Scratch, chapter 5, in NumPy.

Everything a script or the service needs is importable from here.
"""

from engine.functions import cross_entropy_error, log_softmax, relu, sigmoid, softmax
from engine.layers import Affine, AddLayer, MulLayer, Relu, Sigmoid, SoftmaxWithLoss, unbroadcast
from engine.network import TwoLayerNet

__all__ = [
    "Affine",
    "AddLayer",
    "MulLayer",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "TwoLayerNet",
    "cross_entropy_error",
    "log_softmax",
    "relu",
    "sigmoid",
    "softmax",
    "unbroadcast",
]
