import { useEffect, useRef, useState } from "react";
import type { DuplicateGroup, DuplicateKind, ImageMeta } from "../api";
import { formatBytes, formatCount, formatTakenAt } from "../format";
import { type Outcome, useDuplicates } from "../hooks/useDuplicates";
import { imageName } from "./ResultCard";
import { StateMessage } from "./StateMessage";

/** The kinds of duplicates in words, as the server's presets (docs/API.md, "Duplicates"). */
const KINDS: { value: DuplicateKind; label: string; hint: string }[] = [
  { value: "near", label: "Near-identical", hint: "resized or recompressed copies" },
  { value: "exact", label: "Exact copies", hint: "the same file twice" },
  { value: "similar", label: "Similar shots", hint: "crops, light edits, bursts" },
];

function plural(count: number, word: string): string {
  return `${formatCount(count)} ${word}${count === 1 ? "" : "s"}`;
}

/**
 * Groups of duplicates side by side with the facts that tell the copies apart, the copy suggested to keep,
 * and the way to resolve them: the other copies move to the server's review folder (never deleted), and
 * Undo moves them back.
 */
export function DuplicatesView({ onBack, onChanged }: { onBack: () => void; onChanged: () => void }) {
  const [kind, setKind] = useState<DuplicateKind>("near");
  const { listing, outcome, busy, keep, keepSuggested, undo } = useDuplicates(kind, onChanged);
  const [enlarged, setEnlarged] = useState<ImageMeta | null>(null);
  const response = listing.kind === "done" ? listing.response : null;

  return (
    <section className="duplicates" aria-labelledby="duplicates-title" aria-busy={busy}>
      <div className="duplicates-bar">
        <h1 id="duplicates-title">Duplicates</h1>
        <label>
          Find{" "}
          <select value={kind} onChange={(event) => setKind(event.target.value as DuplicateKind)}>
            {KINDS.map((choice) => (
              <option key={choice.value} value={choice.value}>
                {choice.label} ({choice.hint})
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="secondary-button" onClick={onBack}>
          Back to search
        </button>
      </div>
      <OutcomeLine outcome={outcome} busy={busy} onUndo={undo} />
      {listing.kind === "loading" && (
        <StateMessage title="Looking for duplicates">Comparing every photo with its nearest neighbours.</StateMessage>
      )}
      {listing.kind === "error" && (
        <StateMessage title="Duplicates could not be listed" urgent>
          {listing.message}
        </StateMessage>
      )}
      {response && response.count === 0 && (
        <StateMessage title="No duplicates">No two photos are this much alike.</StateMessage>
      )}
      {response && response.count > 0 && (
        <>
          <div className="duplicates-summary">
            <p>
              {plural(response.count, "group")}, {formatBytes(response.recoverable_bytes)} recoverable
            </p>
            {response.resolvable ? (
              <button type="button" className="primary-button" disabled={busy} onClick={keepSuggested}>
                Resolve all with suggestions
              </button>
            ) : (
              <p className="duplicates-note">This server serves a published copy of the index: it moves no files.</p>
            )}
          </div>
          <ol className="duplicate-groups">
            {response.groups.map((group) => (
              <GroupCard
                key={group.images.map((image) => image.image_id).join("-")}
                group={group}
                resolvable={response.resolvable && !busy}
                onKeep={keep}
                onEnlarge={setEnlarged}
              />
            ))}
          </ol>
        </>
      )}
      {enlarged && <Enlargement image={enlarged} onClose={() => setEnlarged(null)} />}
    </section>
  );
}

function OutcomeLine({ outcome, busy, onUndo }: { outcome: Outcome | null; busy: boolean; onUndo: () => void }) {
  if (outcome === null) return <div role="status" className="duplicates-outcome" hidden />;
  if (outcome.kind === "failed") {
    return (
      <p role="alert" className="duplicates-outcome failed">
        {outcome.message}
      </p>
    );
  }
  const done = outcome.kind === "moved" ? outcome.review.moved : outcome.undo.restored;
  const skipped = outcome.kind === "moved" ? outcome.review.skipped : outcome.undo.skipped;
  const text =
    outcome.kind === "moved"
      ? `Moved ${plural(done.length, "photo")} to the review folder, ${formatBytes(outcome.review.freed_bytes)} freed.`
      : `Moved ${plural(done.length, "photo")} back and added them to the index again.`;
  return (
    <div role="status" className="duplicates-outcome">
      <p>
        {text}
        {outcome.kind === "moved" && done.length > 0 && (
          <button type="button" className="secondary-button" disabled={busy} onClick={onUndo}>
            Undo
          </button>
        )}
      </p>
      {skipped.length > 0 && (
        <ul aria-label="Left in place">
          {skipped.map((item) => (
            <li key={`${item.file_name}-${item.reason}`}>
              {item.file_name}: {item.reason}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

interface GroupCardProps {
  group: DuplicateGroup;
  resolvable: boolean;
  onKeep: (imageId: string, images: string[]) => void;
  onEnlarge: (image: ImageMeta) => void;
}

function GroupCard({ group, resolvable, onKeep, onEnlarge }: GroupCardProps) {
  const ids = group.images.map((image) => image.image_id);
  const others = plural(group.images.length - 1, "other");
  const how = group.exact ? "exact copies" : `similarity ${group.similarity.toFixed(3)} or more`;
  return (
    <li className="duplicate-group">
      <h2>
        {group.images.length} photos · {how} · {formatBytes(group.recoverable_bytes)} recoverable
      </h2>
      <ul>
        {group.images.map((image) => {
          const suggested = image.image_id === group.suggested_keep;
          const name = imageName(image);
          return (
            <li key={image.image_id} className={suggested ? "duplicate suggested" : "duplicate"}>
              <button type="button" className="duplicate-picture" onClick={() => onEnlarge(image)}>
                <img src={image.thumbnail_url} alt={`Enlarge ${name}`} loading="lazy" />
              </button>
              <p className="duplicate-name">{name}</p>
              {suggested && <p className="duplicate-badge">Suggested to keep</p>}
              <dl className="duplicate-facts">
                <dt>Size</dt>
                <dd>
                  {image.width} × {image.height} px, {formatBytes(image.size_bytes ?? 0)}
                </dd>
                <dt>Taken</dt>
                <dd>{image.taken_at ? formatTakenAt(image.taken_at) : "No date"}</dd>
                <dt>Folder</dt>
                <dd>{image.folder || "(top folder)"}</dd>
              </dl>
              {resolvable && (
                <button
                  type="button"
                  className={suggested ? "primary-button" : "secondary-button"}
                  // The visible words first, as a person using voice control says them; then which copy.
                  aria-label={`Keep this, move others to review: keep ${name}, move the ${others}`}
                  onClick={() => onKeep(image.image_id, ids)}
                >
                  Keep this, move others to review
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </li>
  );
}

/** A photo shown large inside the duplicates view, in a modal dialog (Esc or Close returns). */
function Enlargement({ image, onClose }: { image: ImageMeta; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
  }, []);
  const name = imageName(image);
  return (
    <dialog ref={dialog} className="duplicate-enlargement" aria-label={name} onClose={onClose}>
      <img src={image.display_url ?? image.image_url} alt={name} />
      <p>
        {name} · {image.width} × {image.height} px · {image.folder || "(top folder)"}
      </p>
      <button type="button" className="secondary-button" onClick={() => dialog.current?.close()}>
        Close
      </button>
    </dialog>
  );
}
