import { type PointerEvent, type RefObject, useEffect, useRef, useState } from "react";
import {
  actualPixelsScale,
  FITTED,
  type Fit,
  fitPhoto,
  moveBy,
  type Point,
  type Size,
  type View,
  zoomAbout,
} from "../zoom";

// How far a finger must travel sideways, in CSS pixels, for a swipe to change photo.
const SWIPE_DISTANCE = 50;
// Two taps this close in time (ms) and space (px) are a double tap.
const DOUBLE_TAP_MS = 300;
const DOUBLE_TAP_PX = 30;

/** What a pointer gesture started from: the pointers then, and the view then. */
interface Gesture {
  pointers: Map<number, Point>;
  view: View;
  /** The distance between two pointers when a pinch started. */
  spread: number;
  /** Their midpoint then. */
  centre: Point;
}

export interface ZoomPan {
  view: View;
  fit: Fit;
  /** Pointer handlers for the surface that takes the gestures. */
  handlers: {
    onPointerDown: (event: PointerEvent<HTMLElement>) => void;
    onPointerMove: (event: PointerEvent<HTMLElement>) => void;
    onPointerUp: (event: PointerEvent<HTMLElement>) => void;
    onPointerCancel: (event: PointerEvent<HTMLElement>) => void;
    onDoubleClick: (event: { clientX: number; clientY: number }) => void;
  };
  /** Zooms by `factor` about the stage's centre (the keyboard's + and -). */
  zoomBy: (factor: number) => void;
}

/**
 * Zoom and pan of a photo on a stage: wheel and double-click (or double tap) zoom about the pointer, two fingers
 * pinch, one finger or the mouse drags a zoomed photo; a sideways swipe of an unzoomed photo calls `onSwipe`
 * (1: next, -1: previous).
 */
export function useZoomPan(
  surface: RefObject<HTMLElement | null>,
  stage: Size,
  photo: Size,
  onSwipe: (step: 1 | -1) => void,
): ZoomPan {
  const fit = fitPhoto(stage, photo);
  const [view, setView] = useState<View>(FITTED);
  const gesture = useRef<Gesture | null>(null);
  const lastTap = useRef<{ time: number; point: Point } | null>(null);
  const lastPointer = useRef("mouse");
  // The wheel listener is attached once; it reads the geometry of the latest render.
  const latest = useRef({ stage, fit });
  latest.current = { stage, fit };

  const pointIn = (event: { clientX: number; clientY: number }): Point => {
    const box = surface.current?.getBoundingClientRect();
    return { x: event.clientX - (box?.left ?? 0), y: event.clientY - (box?.top ?? 0) };
  };

  // React's wheel handler is passive; a zooming wheel must keep the page from scrolling.
  useEffect(() => {
    const element = surface.current;
    if (!element) return;
    const wheel = (event: WheelEvent) => {
      event.preventDefault();
      const box = element.getBoundingClientRect();
      const point = { x: event.clientX - box.left, y: event.clientY - box.top };
      const lines = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? 16 : 1;
      const factor = Math.exp(-event.deltaY * lines * 0.002);
      const { stage: size, fit: fitted } = latest.current;
      setView((current) => zoomAbout(current, current.scale * factor, point, size, fitted));
    };
    element.addEventListener("wheel", wheel, { passive: false });
    return () => element.removeEventListener("wheel", wheel);
  }, [surface]);

  const toggleZoom = (point: Point) => {
    setView((current) =>
      current.scale > 1.01
        ? FITTED
        : zoomAbout(current, actualPixelsScale(photo, fit, window.devicePixelRatio || 1), point, stage, fit),
    );
  };

  const begin = (pointers: Map<number, Point>, current: View) => {
    const [first, second] = [...pointers.values()];
    if (!first) return;
    gesture.current = {
      pointers: new Map(pointers),
      view: current,
      spread: second ? distance(first, second) : 0,
      centre: second ? midpoint(first, second) : first,
    };
  };

  const active = useRef(new Map<number, Point>());

  const onPointerDown = (event: PointerEvent<HTMLElement>) => {
    if (event.button !== 0) return;
    lastPointer.current = event.pointerType;
    event.currentTarget.setPointerCapture(event.pointerId);
    active.current.set(event.pointerId, pointIn(event));
    begin(active.current, view);
  };

  const onPointerMove = (event: PointerEvent<HTMLElement>) => {
    const start = gesture.current;
    if (!start || !active.current.has(event.pointerId)) return;
    active.current.set(event.pointerId, pointIn(event));
    const [first, second] = [...active.current.values()];
    if (!first) return;
    if (second && start.spread > 0) {
      const scale = (start.view.scale * distance(first, second)) / start.spread;
      const pinched = zoomAbout(start.view, scale, start.centre, stage, fit);
      const centre = midpoint(first, second);
      setView(moveBy(pinched, { x: centre.x - start.centre.x, y: centre.y - start.centre.y }, stage, fit));
    } else if (!second && start.view.scale > 1) {
      const from = start.pointers.get(event.pointerId) ?? first;
      setView(moveBy(start.view, { x: first.x - from.x, y: first.y - from.y }, stage, fit));
    }
  };

  const end = (event: PointerEvent<HTMLElement>, cancelled: boolean) => {
    const start = gesture.current;
    const point = active.current.get(event.pointerId);
    active.current.delete(event.pointerId);
    // One finger lifted from a pinch: the other goes on as a drag from here.
    if (active.current.size > 0) {
      begin(active.current, view);
      return;
    }
    gesture.current = null;
    if (cancelled || !start || !point || start.pointers.size !== 1 || event.pointerType === "mouse") return;
    const from = start.pointers.get(event.pointerId) ?? point;
    const delta = { x: point.x - from.x, y: point.y - from.y };
    if (start.view.scale <= 1.01 && Math.abs(delta.x) > SWIPE_DISTANCE && Math.abs(delta.x) > 1.5 * Math.abs(delta.y)) {
      onSwipe(delta.x < 0 ? 1 : -1);
      return;
    }
    if (distance(point, from) < 10) tapped(point, event.timeStamp);
  };

  // Touch screens send no dblclick while the surface takes every gesture itself.
  const tapped = (point: Point, time: number) => {
    const previous = lastTap.current;
    if (previous && time - previous.time < DOUBLE_TAP_MS && distance(point, previous.point) < DOUBLE_TAP_PX) {
      lastTap.current = null;
      toggleZoom(point);
    } else {
      lastTap.current = { time, point };
    }
  };

  return {
    view,
    fit,
    handlers: {
      onPointerDown,
      onPointerMove,
      onPointerUp: (event) => end(event, false),
      onPointerCancel: (event) => end(event, true),
      // A double tap is handled as taps (see `tapped`); a touch screen's own dblclick would undo it.
      onDoubleClick: (event) => {
        if (lastPointer.current === "mouse") toggleZoom(pointIn(event));
      },
    },
    zoomBy: (factor) => {
      const centre = { x: stage.width / 2, y: stage.height / 2 };
      setView((current) => zoomAbout(current, current.scale * factor, centre, stage, fit));
    },
  };
}

function distance(a: Point, b: Point): number {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

function midpoint(a: Point, b: Point): Point {
  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
}
