// Softmax Lab frame bridge: paints an explorer's changed pixels straight onto its ipympl canvas.
//
// Loaded by anywidget for lab_utils.frames.FrameBridge; no build step.
//
// ipympl's own frame path has the kernel encode a PNG of the canvas (a diff, but canvas-sized) and
// the browser load it through an <img> from a blob URL, on every frame. For an explorer, whose
// kernel side redraws only a few bars and labels, that is most of the time from slider to pixels
// (measured: about 3 ms of kernel CPU and 7 ms in the browser, against a 5 ms blit).
// This module adds one message type to the explorer's ipympl canvas model, "softmax_lab_patch":
// rectangles of RGBA pixels with their positions, raw (JupyterLab on this machine) or deflated
// (a remote server), drawn where ipympl draws its own frames (the model's offscreen canvas, then
// every view), strictly in the order they were sent.
//
// ipympl's whole frames still come through its own handler. A patch waits until the whole frame
// before it has loaded, and is dropped if a newer whole frame arrived meanwhile (that frame holds
// its pixels already). The kernel sends patches only after this module has answered
// {type: "ready", ok: true}; if anything is missing it answers {ok: false, reason} and the kernel
// keeps ipympl's path.

const PREFIX = "IPY_MODEL_";
// What this module uses of ipympl's canvas model (ipympl 0.10).
const IPYMPL_PARTS = ["offscreen_canvas", "offscreen_context", "image", "_for_each_view",
                      "handle_binary"];

function missingParts(canvasModel) {
  const missing = IPYMPL_PARTS.filter((name) => canvasModel[name] === undefined);
  if (typeof DecompressionStream !== "function") missing.push("DecompressionStream");
  return missing;
}

function isLoopback(hostname) {
  return hostname === "localhost" || hostname === "[::1]" || /^127\./.test(hostname);
}

function bytesOf(data) {
  return ArrayBuffer.isView(data)
    ? new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8ClampedArray(data);
}

async function inflate(data) {
  const stream = new Blob([bytesOf(data)]).stream()
    .pipeThrough(new DecompressionStream("deflate"));
  return new Uint8ClampedArray(await new Response(stream).arrayBuffer());
}

function imageSettled(image) {
  if (!image.src || image.complete) return null;
  return new Promise((resolve) => {
    image.addEventListener("load", resolve, { once: true });
    image.addEventListener("error", resolve, { once: true });
  });
}

function install(canvasModel) {
  if (canvasModel.__softmaxLabBridge) return;
  canvasModel.__softmaxLabBridge = true;

  // Counts, also written on every view's canvas element (data-softmax-lab-patches, -pending,
  // -superseded and -whole-frames) for the browser tests and for anyone debugging a figure.
  let wholeFrames = 0; // whole frames received through ipympl's own handler
  let wholeFramesDrawn = 0;
  let patchesDrawn = 0;
  let patchesSuperseded = 0; // not drawn: a whole frame sent after them came first
  let queued = 0; // patches waiting in the queue below
  const mark = () => canvasModel._for_each_view((view) => {
    view.canvas.dataset.softmaxLabPatches = String(patchesDrawn);
    view.canvas.dataset.softmaxLabPending = String(queued);
    view.canvas.dataset.softmaxLabSuperseded = String(patchesSuperseded);
    view.canvas.dataset.softmaxLabWholeFrames = String(wholeFramesDrawn);
  });
  const handleBinary = canvasModel.handle_binary;
  canvasModel.handle_binary = function (...args) {
    wholeFrames += 1;
    return handleBinary.apply(this, args);
  };
  // ipympl draws a loaded whole frame in the image's onload; this listener runs after it.
  canvasModel.image.addEventListener("load", () => { wholeFramesDrawn += 1; mark(); });

  const draw = (patch, pixels) => {
    if (patch.seen !== wholeFrames) { // a newer whole frame holds these pixels already
      patchesSuperseded += 1;
      return;
    }
    const context = canvasModel.offscreen_context;
    patch.rects.forEach(([x, y, width, height], i) =>
      context.putImageData(new ImageData(pixels[i], width, height), x, y));
    patchesDrawn += 1;
    canvasModel._for_each_view((view) => view.update_canvas());
    mark();
  };
  const report = (error) => console.warn("softmax-lab: a frame patch was not drawn:", error);

  // Patches are drawn in order. A raw patch with nothing before it is drawn at once, in the
  // message handler; anything else (a whole frame still loading, deflated pixels) goes through
  // this queue.
  let queue = null;
  canvasModel.handle_softmax_lab_patch = function (msg, buffers) {
    const patch = { seen: wholeFrames, rects: msg.rects };
    const loading = imageSettled(canvasModel.image);
    if (msg.encoding === "raw" && queued === 0 && loading === null) {
      try { draw(patch, buffers.map(bytesOf)); } catch (error) { report(error); }
      return;
    }
    const pixels = msg.encoding === "raw"
      ? Promise.resolve(buffers.map(bytesOf)) : Promise.all(buffers.map(inflate));
    queued += 1;
    mark();
    queue = (queue || Promise.resolve())
      .then(() => loading)
      .then(() => pixels)
      .then((decoded) => draw(patch, decoded))
      .catch(report)
      .finally(() => { queued -= 1; mark(); });
  };
}

// When a page reloads, ipywidgets restores every widget of the kernel at once, and the canvas may
// be registered a moment after this bridge: ask again for a while before giving up.
async function canvasModelOf(model, attempts = 50, delayMs = 100) {
  const id = (model.get("canvas") || "").slice(PREFIX.length);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await model.widget_manager.get_model(id);
    } catch (error) {
      if (attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

// Notebook 7 matches its keyboard shortcuts in the capture phase, before a focused widget sees the
// key, so its command-mode ArrowLeft/ArrowRight ("go to the heading above/below") took the arrow
// keys from an explorer's slider handle (seen with Notebook 7.6.5; JupyterLab matches in the bubble
// phase, after the slider). Lumino skips every shortcut whose target carries
// data-lm-suppress-shortcuts: mark a slider handle of an explorer as it gets a key, in the window's
// capture phase, which runs before the document's where Lumino listens. Installed once per page.
// Also, ipympl's canvas box swallows every key, Tab included, once a click has focused it: let Tab
// through from an explorer's figure (it takes no keys; the explorer unbinds Matplotlib's), so
// the browser moves the focus on as usual.
function keepSliderKeys() {
  if (window.__softmaxLabSliderKeys) return;
  window.__softmaxLabSliderKeys = true;
  window.addEventListener("keydown", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    if (target.matches(".softmax-lab-explorer .noUi-handle")) {
      target.setAttribute("data-lm-suppress-shortcuts", "true");
    } else if (event.key === "Tab"
               && target.matches(".softmax-lab-explorer .jupyter-matplotlib-canvas-div")) {
      event.stopImmediatePropagation();
    }
  }, true);
}

// Accessible names. ipywidgets draws a slider's label beside its handle without tying the two, so
// a screen reader meets a nameless slider. The kernel puts each control's name, as the maths
// writes it (z_0, T, target y), in the control's tooltip (ipywidgets 8 makes it the title of the
// control's label, or of the control when it has no label); this gives that name to the
// control's focusable parts whenever an explorer's DOM changes. Installed once per page.
function nameControls() {
  const controls = '.softmax-lab-explorer [class*="softmax-lab-control-"]';
  for (const control of document.querySelectorAll(controls)) {
    const titled = control.hasAttribute("title") ? control : control.querySelector("[title]");
    const name = titled && titled.getAttribute("title");
    if (!name) continue;
    for (const part of control.querySelectorAll("[role=slider], select, input, textarea"))
      if (part.getAttribute("aria-label") !== name) part.setAttribute("aria-label", name);
    for (const readout of control.querySelectorAll(".widget-readout[contenteditable]"))
      if (readout.getAttribute("aria-label") !== `${name} value`) {
        readout.setAttribute("role", "textbox");
        readout.setAttribute("aria-label", `${name} value`);
      }
    if (control.querySelector(".widget-toggle-button") && !control.getAttribute("role")) {
      control.setAttribute("role", "group");
      control.setAttribute("aria-label", name);
    }
  }
}

function keepControlsNamed() {
  if (window.__softmaxLabNames) return;
  window.__softmaxLabNames = true;
  let pending = false;
  const observer = new MutationObserver(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; nameControls(); });
  });
  observer.observe(document.body, { childList: true, subtree: true });
  nameControls();
}

// The figure's text alternative (the kernel's summary of what it shows, sent on every change):
// each view's canvas becomes an image with that label. The figure takes no keys (the explorer
// unbinds Matplotlib's), yet ipympl makes its canvas box a Tab stop that keeps Tab for itself, a
// keyboard trap: take it, and the hidden toolbar's buttons, out of the Tab order (see above).
function describeFigure(model, canvasModel) {
  const describe = () => canvasModel._for_each_view((view) => {
    view.canvas.setAttribute("role", "img");
    view.canvas.setAttribute("aria-label", model.get("alt"));
    const box = view.canvas.closest(".jupyter-matplotlib-canvas-div");
    if (box) box.setAttribute("tabindex", "-1");
    const figure = view.canvas.closest(".jupyter-matplotlib") || view.el;
    for (const button of figure.querySelectorAll(".jupyter-matplotlib-button"))
      if (!button.checkVisibility({ visibilityProperty: true }))
        button.setAttribute("tabindex", "-1");
  });
  model.on("change:alt", describe);
  // A view made later (a reload, a second display) gets it with its first frame.
  canvasModel.image.addEventListener("load", describe);
  describe();
}

export default {
  async initialize({ model }) {
    keepSliderKeys();
    keepControlsNamed();
    let canvasModel = null;
    try {
      canvasModel = await canvasModelOf(model);
    } catch (error) {
      model.send({ type: "ready", ok: false, reason: `no canvas model (${error})` });
      return;
    }
    const missing = missingParts(canvasModel);
    if (missing.length) {
      model.send({ type: "ready", ok: false, reason: `missing: ${missing.join(", ")}` });
      return;
    }
    install(canvasModel);
    describeFigure(model, canvasModel);
    model.send({ type: "ready", ok: true, local: isLoopback(window.location.hostname) });
  },
};
