"""Backprop Lab's engine: the layers of Deep Learning from Scratch, chapters 5 and 6, in NumPy.

Everything a script or the service needs is importable from here.
"""

from engine.data import Dataset, DatasetError, load_dataset, load_mnist
from engine.functions import cross_entropy_error, log_softmax, relu, sigmoid, softmax
from engine.gradcheck import GradcheckReport, ParamReport, gradcheck
from engine.gradient import numerical_gradient
from engine.layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss, unbroadcast
from engine.layers_ch6 import BatchNormalization, Dropout, Tanh
from engine.multilayer import MultiLayerNet, MultiLayerNetExtend
from engine.network import TwoLayerNet
from engine.optimizers import SGD, AdaGrad, Adam, Momentum
from engine.trainer import TrainConfig, Trainer, TrainEvent

__all__ = [
    "SGD",
    "AdaGrad",
    "Adam",
    "AddLayer",
    "Affine",
    "BatchNormalization",
    "Dataset",
    "DatasetError",
    "Dropout",
    "GradcheckReport",
    "Momentum",
    "MulLayer",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "ParamReport",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "Tanh",
    "TrainConfig",
    "TrainEvent",
    "Trainer",
    "TwoLayerNet",
    "cross_entropy_error",
    "gradcheck",
    "load_dataset",
    "load_mnist",
    "log_softmax",
    "numerical_gradient",
    "relu",
    "sigmoid",
    "softmax",
    "unbroadcast",
]
