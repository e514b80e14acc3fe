import { useEffect, useState } from "react";
import { ApiError, type DuplicatesResponse, fetchDuplicates } from "../api";
import { imageName } from "./ResultCard";
import { StateMessage } from "./StateMessage";

/** Similarity thresholds offered besides the server's default (docs/API.md): stricter ones find
 * fewer, closer groups. */
const THRESHOLDS = [0.9, 0.93, 0.96, 0.98, 0.99];

type Outcome =
  | { kind: "loading" }
  | { kind: "done"; response: DuplicatesResponse }
  | { kind: "error"; message: string };

/** Groups of near-identical photos (bursts, resized or edited copies) with their thumbnails. */
export function DuplicatesView({ onBack }: { onBack: () => void }) {
  const [threshold, setThreshold] = useState<number | null>(null); // null: the server's default
  const [outcome, setOutcome] = useState<Outcome>({ kind: "loading" });

  useEffect(() => {
    const controller = new AbortController();
    setOutcome({ kind: "loading" });
    fetchDuplicates(threshold, controller.signal).then(
      (response) => setOutcome({ kind: "done", response }),
      (error: unknown) => {
        if (error instanceof DOMException && error.name === "AbortError") return;
        const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
        setOutcome({ kind: "error", message });
      },
    );
    return () => controller.abort();
  }, [threshold]);

  return (
    <section className="duplicates" aria-labelledby="duplicates-title">
      <div className="duplicates-bar">
        <h1 id="duplicates-title">Duplicates</h1>
        <label>
          Similarity at least{" "}
          <select
            value={threshold ?? ""}
            onChange={(event) => setThreshold(event.target.value === "" ? null : Number(event.target.value))}
          >
            <option value="">
              Default
              {threshold === null && outcome.kind === "done" ? ` (${outcome.response.threshold.toFixed(3)})` : ""}
            </option>
            {THRESHOLDS.map((value) => (
              <option key={value} value={value}>
                {value.toFixed(2)}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary-button" onClick={onBack}>
          Back to search
        </button>
      </div>
      {outcome.kind === "loading" && (
        <StateMessage title="Looking for duplicates">Comparing every photo with its nearest neighbours.</StateMessage>
      )}
      {outcome.kind === "error" && (
        <StateMessage title="Duplicates could not be listed" urgent>
          {outcome.message}
        </StateMessage>
      )}
      {outcome.kind === "done" && outcome.response.count === 0 && (
        <StateMessage title="No duplicates">No two photos are this similar.</StateMessage>
      )}
      {outcome.kind === "done" && outcome.response.count > 0 && (
        <ol className="duplicate-groups">
          {outcome.response.groups.map((group) => (
            <li key={group.images.map((image) => image.image_id).join("-")} className="duplicate-group">
              <h2>
                {group.images.length} photos ·{" "}
                {group.exact ? "exact copies" : `similarity ${group.similarity.toFixed(3)} or more`}
              </h2>
              <ul>
                {group.images.map((image) => (
                  <li key={image.image_id}>
                    <a href={image.image_url} target="_blank" rel="noreferrer">
                      <img src={image.thumbnail_url} alt={imageName(image)} loading="lazy" />
                      <span>{imageName(image)}</span>
                    </a>
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
