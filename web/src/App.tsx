import { useCallback, useEffect, useRef, useState } from "react";
import { answerIsFull, rankedLists, shownResults } from "./answer";
import { type ImageMeta, type SearchResponse, type SearchResult, thumbnailPath } from "./api";
import { DropOverlay } from "./components/DropOverlay";
import { DuplicatesView } from "./components/DuplicatesView";
import { ExampleChips } from "./components/ExampleChips";
import { Header } from "./components/Header";
import { HomeIntro } from "./components/HomeIntro";
import { ImageDialog } from "./components/ImageDialog";
import { LibraryOverview } from "./components/LibraryOverview";
import { imageName } from "./components/ResultCard";
import type { RankedListHandle } from "./components/RankedList";
import { QueryChips } from "./components/QueryChips";
import { RefineBar } from "./components/RefineBar";
import { type ExampleImage, SearchForm } from "./components/SearchForm";
import { SearchResults } from "./components/SearchResults";
import { TokenForm } from "./components/TokenForm";
import { YourPhoto } from "./components/YourPhoto";
import { describeQuery } from "./format";
import { imageFromAddress } from "./imageAddress";
import { queryChips } from "./queryChips";
import { useDuplicatesView } from "./hooks/useDuplicatesView";
import { useFileDrop } from "./hooks/useFileDrop";
import { rememberImage, useImageMeta } from "./hooks/useImageMeta";
import { useGridShape } from "./hooks/useGridShape";
import { useOnline } from "./hooks/useOnline";
import { useOverview } from "./hooks/useOverview";
import { usePastedImage } from "./hooks/usePastedImage";
import { usePhotoAddress } from "./hooks/usePhotoAddress";
import { type SearchOutcome, useSearch } from "./hooks/useSearch";
import { useSlashToFocus } from "./hooks/useSlashToFocus";
import { useStats } from "./hooks/useStats";
import { useUrlState } from "./hooks/useUrlState";
import {
  EMPTY_STATE,
  hasQuery,
  MAX_RESULTS,
  PAGE_SIZE,
  type SearchState,
  sameQuery,
  startQuery,
} from "./searchState";
import { findUpload, rememberUpload } from "./uploads";

export function App() {
  const [state, navigateSearch] = useUrlState();
  const duplicates = useDuplicatesView();
  const { hide: hideDuplicates } = duplicates;
  const viewer = usePhotoAddress();
  const { sync: syncPhoto } = viewer;
  // A new search (or the duplicates view) leaves the viewer: its address holds no photo.
  const navigate = useCallback(
    (next: SearchState, mode?: "push" | "replace") => {
      hideDuplicates();
      navigateSearch(next, mode);
      syncPhoto();
    },
    [hideDuplicates, navigateSearch, syncPhoto],
  );
  const online = useOnline();
  const { stats, needsToken, refresh: refreshStats } = useStats(online);
  // Queries that suit the index's model; none until the server has said, so chips never change under the pointer.
  const exampleQueries = stats?.example_queries ?? [];
  const { outcome, retry } = useSearch(state);
  const queryImage = useImageMeta(state.imageId);
  const example = exampleImageOf(state, queryImage);
  const openId = viewer.photo;
  const [activeIndex, setActiveIndex] = useState(0);
  // Why an image dropped or pasted by its address could not be searched by; cleared by the next search.
  const [notice, setNotice] = useState<string | null>(null);
  const [weakerRevealed, setWeakerRevealed] = useState(false);
  const searchInput = useRef<HTMLInputElement>(null);
  const grid = useRef<RankedListHandle>(null);
  const yourPhoto = useRef<HTMLButtonElement>(null);

  // A new search starts with the first result active and the weaker ones hidden; a longer list of the same
  // search keeps them revealed.
  const [shownState, setShownState] = useState(state);
  if (shownState !== state) {
    setShownState(state);
    setActiveIndex(0);
    setNotice(null);
    if (!sameQuery(shownState, state)) setWeakerRevealed(false);
  }

  const description = describeQuery(state, example?.name ?? null);
  useEffect(() => {
    const title = description.replace(/^matching /, "");
    document.title = hasQuery(state) ? `${title} — Viewfinder` : "Viewfinder";
  }, [state, description]);

  useSlashToFocus(searchInput, openId === null);

  const searchByFile = useCallback(
    (file: File) => {
      const upload = rememberUpload(file);
      navigate(startQuery(state, { text: state.text, negative: state.negative, uploadKey: upload.key }));
    },
    [state, navigate],
  );
  const searchByAddress = useCallback(
    (address: string) => {
      imageFromAddress(address).then(searchByFile, (error: Error) => setNotice(error.message));
    },
    [searchByFile],
  );
  const dragging = useFileDrop(searchByFile, searchByAddress);
  usePastedImage(searchByFile, searchByAddress);

  const response = shownResponse(outcome);
  // An answer to a search that sent no threshold says the server's own.
  const [serverRelevance, setServerRelevance] = useState<number | null>(null);
  if (outcome.kind === "results" && state.minRelevance === null && outcome.response.min_relevance !== undefined) {
    if (outcome.response.min_relevance !== serverRelevance) setServerRelevance(outcome.response.min_relevance);
  }
  const lists = rankedLists(response, weakerRevealed);
  // The keyboard and the large view step from the last result on into the weaker ones on show.
  const results = shownResults(lists);
  const openIndex = openId === null ? -1 : results.findIndex((result) => result.image_id === openId);
  const openResult = results[openIndex];
  // A photo that is none of the results (a link to it, the example of a search by image) is shown from its
  // metadata, until it turns up among the results.
  const openMeta = useImageMeta(openResult === undefined ? openId : null);
  const openImage = openResult ?? openMeta;

  // The viewer closed (Esc, Close, Back): the card last viewed gets focus, as the one that opened it would.
  const lastOpen = useRef<string | null>(null);
  useEffect(() => {
    const closed = lastOpen.current;
    lastOpen.current = openId;
    if (openId !== null || closed === null) return;
    if (closed === state.imageId) yourPhoto.current?.focus();
    const index = results.findIndex((result) => result.image_id === closed);
    if (index >= 0) grid.current?.focusCard(index);
    // Only the viewer closing matters here; the results are read as they are then.
  }, [openId]);
  const idle = outcome.kind === "idle";
  const [shape, setShape] = useGridShape();
  // The library's count changes when duplicates are resolved or undone: the overview follows it.
  const overview = useOverview(state.folder, idle && !needsToken, stats?.images ?? 0);
  // A longer list is worth asking for once every weaker hit of this one is on show.
  const canShowMore = answerIsFull(response, state.limit) && lists.hidden === 0 && state.limit < MAX_RESULTS;

  return (
    <div className="app">
      <Header stats={stats} onHome={() => navigate(EMPTY_STATE)} onDuplicates={duplicates.show} />
      {!online && (
        <p className="offline-banner" role="status">
          You are offline. Searches will run again when the connection is back.
        </p>
      )}
      {duplicates.open && (
        <main className="page">
          <DuplicatesView onBack={() => navigate(state, "push")} onChanged={refreshStats} />
        </main>
      )}
      <main className={idle ? "page home" : "page"} hidden={duplicates.open}>
        {idle ? <HomeIntro stats={stats} /> : <h1 className="visually-hidden">Search results</h1>}
        <SearchForm
          state={state}
          example={example}
          suggestion={exampleQueries[0]}
          inputRef={searchInput}
          onSubmit={(text, negative) => navigate({ ...state, text, negative, limit: PAGE_SIZE })}
          onPickFile={searchByFile}
          onRemoveExample={() => navigate({ ...state, imageId: null, uploadKey: null, limit: PAGE_SIZE })}
          onLeaveDown={() => grid.current?.focusCard(activeIndex)}
        />
        {notice !== null && (
          <p className="form-problem" role="alert">
            {notice}
          </p>
        )}
        {outcome.kind === "results" && (
          <QueryChips chips={queryChips(outcome.response, state)} onRemove={(next) => navigate(next)} />
        )}
        {idle && needsToken && <TokenForm />}
        {idle && state.folder !== "" && (
          <p className="overview-folder">
            Searching in <strong>{state.folder}</strong>
            <button type="button" className="text-button" onClick={() => navigate({ ...state, folder: "" })}>
              All folders
            </button>
          </p>
        )}
        {idle && <ExampleChips queries={exampleQueries} onPick={(text) => navigate(startQuery(state, { text }))} />}
        {idle && overview !== null && (
          <LibraryOverview
            overview={overview}
            onOpenPhoto={(photo) => {
              rememberImage(photo);
              viewer.open(photo.image_id);
            }}
            onOpenFolder={(folder) => navigate({ ...state, folder })}
          />
        )}
        {!idle && (
          <RefineBar
            state={state}
            stats={stats}
            defaultRelevance={serverRelevance}
            onChange={(change, mode) => navigate({ ...state, ...change, limit: PAGE_SIZE }, mode)}
          />
        )}
        {outcome.kind !== "idle" && (
          <SearchResults
            outcome={outcome}
            lists={lists}
            description={description}
            libraryImages={stats?.images ?? null}
            online={online}
            sort={state.sort}
            shape={shape}
            onShapeChange={setShape}
            pinned={
              state.imageId !== null && (
                <YourPhoto
                  imageId={state.imageId}
                  name={example?.name ?? `Image ${state.imageId}`}
                  buttonRef={yourPhoto}
                  onOpen={() => state.imageId !== null && viewer.open(state.imageId)}
                />
              )
            }
            listRef={grid}
            activeIndex={activeIndex}
            onActiveChange={setActiveIndex}
            onOpen={(index) => {
              const result = results[index];
              if (result) viewer.open(result.image_id);
            }}
            onRevealWeaker={() => setWeakerRevealed(true)}
            onSortChange={(sort) => navigate({ ...state, sort, limit: PAGE_SIZE })}
            onRetry={retry}
            onShowMore={
              canShowMore
                ? () =>
                    // Doubling reaches the most in a few answers, each of which is the whole list again.
                    navigate({ ...state, limit: Math.min(MAX_RESULTS, state.limit * 2) }, "replace")
                : null
            }
          />
        )}
      </main>
      <footer className="shortcuts" aria-label="Keyboard shortcuts">
        <kbd>/</kbd> search · <kbd>←</kbd>
        <kbd>→</kbd>
        <kbd>↑</kbd>
        <kbd>↓</kbd> move · <kbd>Enter</kbd> open · <kbd>+</kbd>
        <kbd>-</kbd> zoom · <kbd>Esc</kbd> close
      </footer>
      {openImage && (
        <ImageDialog
          result={openImage}
          caption={openId === state.imageId ? "Your photo" : undefined}
          position={openResult ? { index: openIndex, count: results.length } : null}
          neighbours={openResult ? neighboursOf(results, openIndex) : []}
          onFilter={hasQuery(state) ? (change) => navigate({ ...state, ...change, limit: PAGE_SIZE }) : null}
          onStep={(step) => {
            const next = results[openIndex + step];
            if (next) viewer.open(next.image_id);
          }}
          onFindSimilar={
            openId === state.imageId
              ? null
              : () => {
                  rememberImage(openImage);
                  navigate(startQuery(state, { imageId: openImage.image_id }));
                }
          }
          onClose={viewer.close}
        />
      )}
      {dragging && <DropOverlay />}
    </div>
  );
}

/** The example image of a search by image, as the search box shows it; `meta` is the indexed one's. */
function exampleImageOf(state: SearchState, meta: ImageMeta | null): ExampleImage | null {
  if (state.uploadKey !== null) {
    const upload = findUpload(state.uploadKey);
    // Still shown when gone, so that it can be removed from the search.
    return upload
      ? { name: upload.file.name, previewUrl: upload.previewUrl }
      : { name: "Image from an earlier visit", previewUrl: null };
  }
  if (state.imageId === null) return null;
  return {
    name: meta ? imageName(meta) : `Image ${state.imageId}`,
    previewUrl: thumbnailPath(state.imageId),
  };
}

/** The results either side of the open one, which the viewer fetches ahead. */
function neighboursOf(results: SearchResult[], index: number): SearchResult[] {
  return [results[index - 1], results[index + 1]].filter((result) => result !== undefined);
}

function shownResponse(outcome: SearchOutcome): SearchResponse | null {
  if (outcome.kind === "results") return outcome.response;
  if (outcome.kind === "loading") return outcome.previous;
  return null;
}
