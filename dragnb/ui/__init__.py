"""The notebook UI: pictures of every stage and the widgets a drag is made with.

- ``plots``:        a matplotlib figure of each stage (``dragnb.plots``); ``feature_plots``
                    draws the features and the region, ``figures`` holds what they share
                    (colours, showing once), ``animation`` a drag as GIF/MP4;
- ``teaching_figures``: the teaching model's model-card figures
                    (``python -m dragnb.ui.teaching_figures DIR``);
- ``picker``:       ``PointPicker``, click handles and targets, paint a mask (ipycanvas);
                    its browser-free state is ``picker_state.PickerState``;
- ``widget``:       ``DragWidget``, the picker with a Drag button that runs the drag in the
                    background, beside its ``settings`` panel, live ``charts`` and ``history``.
"""
