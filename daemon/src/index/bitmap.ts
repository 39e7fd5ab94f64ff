// roaring is a CommonJS addon; Node's ESM loader cannot see its named exports, so the class is
// taken from the default export once here.
import roaring, { type RoaringBitmap32 } from "roaring";

export const Bitmap = roaring.RoaringBitmap32;
export type Bitmap = RoaringBitmap32;
