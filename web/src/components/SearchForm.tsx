import { type FormEvent, type KeyboardEvent, type Ref, useRef, useState } from "react";
import { hasQuery, type SearchState } from "../searchState";
import { CloseIcon, ImageIcon, SearchIcon } from "./Icons";

/** The image a search is "similar to", as the search box shows it. */
export interface ExampleImage {
  name: string;
  /** Null when there is nothing left to show (an upload from an earlier visit). */
  previewUrl: string | null;
}

interface SearchFormProps {
  state: SearchState;
  example: ExampleImage | null;
  /** A query shown as the placeholder: one the index's model understands. */
  suggestion: string | undefined;
  inputRef: Ref<HTMLInputElement>;
  onSubmit: (text: string, negative: string) => void;
  onPickFile: (file: File) => void;
  onRemoveExample: () => void;
  /** Arrow-down in the search box: continue into the results. */
  onLeaveDown: () => void;
}

/** The search box: words, an optional example image, and "without …" once a search is under way. */
export function SearchForm(props: SearchFormProps) {
  const { state, example, suggestion, inputRef, onSubmit, onPickFile, onRemoveExample, onLeaveDown } = props;
  const [text, setText] = useState(state.text);
  const [negative, setNegative] = useState(state.negative);
  const [shown, setShown] = useState(state);
  const fileRef = useRef<HTMLInputElement>(null);

  // Back/forward and example chips change the search from outside: the fields follow it.
  if (shown !== state) {
    setShown(state);
    setText(state.text);
    setNegative(state.negative);
  }

  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit(text.trim(), negative.trim());
  };

  const leaveDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key !== "ArrowDown") return;
    event.preventDefault();
    onLeaveDown();
  };

  return (
    <form className="search-form" role="search" aria-label="Search the library" onSubmit={submit}>
      <div className="search-box">
        <span className="search-box-icon">
          <SearchIcon />
        </span>
        {example && (
          <span className="example-pill">
            {example.previewUrl === null ? (
              <ImageIcon />
            ) : (
              <img src={example.previewUrl} alt="" width={28} height={28} />
            )}
            <span className="example-pill-name">{example.name}</span>
            <button
              type="button"
              className="icon-button small"
              onClick={onRemoveExample}
              aria-label={`Remove example image ${example.name}`}
            >
              <CloseIcon />
            </button>
          </span>
        )}
        <input
          ref={inputRef}
          className="search-input"
          type="search"
          name="q"
          value={text}
          onChange={(event) => setText(event.target.value)}
          onKeyDown={leaveDown}
          placeholder={example ? "Add words to refine…" : suggestion ? `Try “${suggestion}”` : "Describe an image"}
          aria-label="Describe the images you are looking for"
          autoComplete="off"
          enterKeyHint="search"
        />
        <button
          type="button"
          className="icon-button"
          onClick={() => fileRef.current?.click()}
          aria-label="Search by image"
          title="Search by image — or drop one anywhere on the page"
        >
          <ImageIcon />
        </button>
        <input
          ref={fileRef}
          type="file"
          accept="image/*"
          hidden
          aria-label="Choose an image to search by"
          onChange={(event) => {
            const file = event.target.files?.[0];
            // Cleared so that choosing the same file again still counts as a change.
            event.target.value = "";
            if (file) onPickFile(file);
          }}
        />
        <button type="submit" className="search-button">
          Search
        </button>
      </div>
      {hasQuery(state) && (
        <label className="negative-field">
          <span>Without</span>
          <input
            type="search"
            name="not"
            value={negative}
            onChange={(event) => setNegative(event.target.value)}
            onKeyDown={leaveDown}
            placeholder="e.g. people, text, blur"
            autoComplete="off"
            enterKeyHint="search"
          />
        </label>
      )}
    </form>
  );
}
