// Types the JSDoc in static/js cannot spell, for `tsc --noEmit` only (the page never loads this).
import type * as dagre from "@dagrejs/dagre";

/** A number or a rectangular nested list of numbers (JSDoc cannot write a recursive type). */
export type Tensor = number | Tensor[];

declare global {
  interface Window {
    /** dagre, loaded by templates/index.html as a classic script, for "Tidy layout". */
    dagre?: typeof dagre;
  }
}
