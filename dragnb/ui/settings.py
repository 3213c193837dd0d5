"""The drag widget's settings panel: the main ``DragOptions`` fields as widgets.

Each row shows a field's widget, its value for the loaded model (``DragOptions.for_model``:
the published default or the model's ``dragnb.json`` override) and where that value comes
from. ``values()`` is what the next drag gets; ``reset()`` puts the model's values back.
"""
from __future__ import annotations

from dataclasses import asdict

from ..options import CHOICES, DragOptions

# the fields shown, in the order the method uses them, with what each one does
FIELDS = {
    "init": "where the optimisation starts: the inverted latent, or the inversion of the image warped along the drags",
    "warp": "init=warp: the warp's geometry: the region deforms about its anchors, shapes kept (shape), or the "
            "handle's part moves and the rest follows by a fall-off (falloff)",
    "strength": "inversion strength: the share of the DDIM steps inverted (0.7 = 35 of 50)",
    "steps": "DDIM steps",
    "max_iters": "at most this many optimisation steps",
    "lr": "Adam's step size on the latent",
    "lam": "weight of the penalty on change outside the editable region",
    "tolerance": "stop once every handle is this close to its target (image pixels)",
    "r_m": "motion-supervision patch radius (image pixels; at least one feature cell)",
    "r_p": "point-tracking search radius (image pixels; at least one feature cell)",
    "supervise": "pull towards the patch at the handle now (step) or the original's (original, GoodDrag)",
    "drag_per_denoise": "GoodDrag's alternation: optimisation steps per denoising step (0 = off)",
    "preserve": "what the penalty compares: the next DDIM step's latent (step) or the latent itself",
    "lora": "fit an identity LoRA before the drag",
    "lora_steps": "identity LoRA training steps",
    "size": "the long side the drag works at (image pixels)",
}
INTS = {"steps", "max_iters", "drag_per_denoise", "lora_steps", "size"}


class SettingsPanel:
    """Widgets for ``FIELDS``; ``given`` (option values) overrides the model's values at the start."""

    def __init__(self, model, **given):
        import ipywidgets as W

        self.model = model
        self.defaults = self.model_values()
        self.controls = {}
        rows = []
        for name, what in FIELDS.items():
            control = self._control(W, name, what)
            note = W.HTML(f"<small>model's value <b>{self.defaults[name]}</b> · {DragOptions.source(name, model)}"
                          "</small>")
            self.controls[name] = control
            rows.append(W.HBox([control, note]))
        self.reset_button = W.Button(description="reset to the model's defaults", layout=W.Layout(width="auto"))
        self.reset_button.on_click(lambda _b: self.reset())
        self.widget = W.VBox(rows + [self.reset_button])
        self.set(**{k: v for k, v in given.items() if k in FIELDS})

    def model_values(self) -> dict:
        """The model's value of each field in ``FIELDS`` (``size``: the long side it works at)."""
        o = asdict(DragOptions.for_model(self.model))
        return {name: o[name] for name in FIELDS}

    def _control(self, W, name: str, what: str):
        value = self.defaults[name]
        kw = dict(description=name, description_tooltip=what, style={"description_width": "110px"},
                  layout=W.Layout(width="280px"))
        if name in CHOICES and isinstance(CHOICES[name][0], bool):
            return W.Checkbox(value=bool(value), indent=True, **kw)
        if name in CHOICES:
            return W.Dropdown(options=list(CHOICES[name]), value=value, **kw)
        if name in INTS:
            return W.IntText(value=int(value), **kw)
        return W.FloatText(value=float(value), **kw)

    def values(self) -> dict:
        """{field: value} as the widgets show them now."""
        return {name: c.value for name, c in self.controls.items()}

    def set(self, **values) -> None:
        """Show ``values`` ({field: value}) in the widgets; fields not in ``FIELDS`` are refused."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"the settings panel has no field(s) {', '.join(sorted(unknown))}; "
                             f"it shows {', '.join(FIELDS)}")
        for name, v in values.items():
            self.controls[name].value = v

    def reset(self) -> None:
        """Every field back to the model's value."""
        self.set(**self.defaults)
