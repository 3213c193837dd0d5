"""The notebook UI: pictures of every stage and the widgets a drag is made with.

- ``plots``:        a matplotlib figure of each stage (``dragnb.plots``); ``figures`` holds
                    what they share (colours, showing once), ``animation`` a drag as GIF/MP4;
- ``picker``:       ``PointPicker``, click handles and targets, paint a mask (ipycanvas);
                    its browser-free state is ``picker_state.PickerState``;
- ``widget``:       ``DragWidget``, the picker with a Drag button that runs the drag in the
                    background, beside its ``settings`` panel, live ``charts`` and ``history``.
"""
