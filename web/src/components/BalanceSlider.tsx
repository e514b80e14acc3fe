import { useEffect, useState } from "react";
import { MAX_SHARE, MIN_SHARE } from "../searchState";

interface BalanceSliderProps {
  textShare: number;
  onCommit: (textShare: number) => void;
}

// Long enough to let a drag settle before searching, short enough to feel live.
const SETTLE_MS = 250;

/** How much the words weigh against the example image when a search has both. */
export function BalanceSlider({ textShare, onCommit }: BalanceSliderProps) {
  const [value, setValue] = useState(textShare);
  const [shown, setShown] = useState(textShare);
  if (shown !== textShare) {
    setShown(textShare);
    setValue(textShare);
  }

  useEffect(() => {
    if (value === textShare) return;
    const timer = window.setTimeout(() => onCommit(value), SETTLE_MS);
    return () => window.clearTimeout(timer);
  }, [value, textShare, onCommit]);

  const textPercent = Math.round(value * 100);
  return (
    <label className="refine-field balance">
      <span>Words</span>
      <input
        type="range"
        min={MIN_SHARE}
        max={MAX_SHARE}
        step={0.1}
        // Words sit on the left and the image on the right, so the slider position is the image's share.
        value={imageShare(value)}
        onChange={(event) => setValue(imageShare(Number(event.target.value)))}
        aria-label="Balance between words and example image"
        aria-valuetext={`${textPercent}% words, ${100 - textPercent}% image`}
      />
      <span>Image</span>
      <output className="balance-numbers" aria-hidden="true">
        Photo {100 - textPercent}% · Words {textPercent}%
      </output>
    </label>
  );
}

/** The other side of the balance; rounded so 1 - 0.7 stays 0.3. */
function imageShare(share: number): number {
  return Math.round((1 - share) * 10) / 10;
}
