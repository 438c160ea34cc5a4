// Median and MAD of a small sample in place, by selection rather than sorting: the profile
// recomputes them once per tag and bucket, which a year's replay does hundreds of thousands of times.

/** Median of values[0..count), reordering them. NaN when empty. */
export function medianInPlace(values: Float64Array, count: number): number {
  if (count === 0) return Number.NaN;
  const upper = count >> 1;
  const upperValue = selectInPlace(values, count, upper);
  if (count % 2 === 1) return upperValue;
  // After selection everything below `upper` is at most the upper middle: the lower middle is their maximum.
  let lowerValue = values[0]!;
  for (let index = 1; index < upper; index += 1) if (values[index]! > lowerValue) lowerValue = values[index]!;
  return (lowerValue + upperValue) / 2;
}

/** Median absolute deviation from `median` of values[0..count), overwriting them. */
export function madInPlace(values: Float64Array, count: number, median: number): number {
  for (let index = 0; index < count; index += 1) values[index] = Math.abs(values[index]! - median);
  return medianInPlace(values, count);
}

/** Scale factor from MAD to the standard deviation of a normal distribution. */
export const MAD_TO_SIGMA = 1.4826;

// Hoare-style quickselect with a middle pivot: the k-th smallest lands at index k.
function selectInPlace(values: Float64Array, count: number, k: number): number {
  let left = 0;
  let right = count - 1;
  while (left < right) {
    const pivot = values[(left + right) >> 1]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i]! < pivot) i += 1;
      while (values[j]! > pivot) j -= 1;
      if (i <= j) {
        const swap = values[i]!;
        values[i] = values[j]!;
        values[j] = swap;
        i += 1;
        j -= 1;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return values[k]!;
}
