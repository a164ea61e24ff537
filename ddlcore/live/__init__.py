"""Live scoring (``ddl watch``): a source read as fast as it comes, scored one frame at a time.

- :mod:`.scorer`: one frame in, its causal score, box and alarm state out (the calibration's rule);
- :mod:`.sources`: camera index, RTSP/HTTP stream, video file at its frame rate, or a folder being
  written into, read by a thread that keeps a bounded backlog of frames and reconnects;
- :mod:`.overlay`: the frame with the error heatmap, the worst patch's box and the score; the overlay video;
- :mod:`.event_log`: events as JSON lines; :mod:`.stats`: frame rate and latency;
- :mod:`.server`: the ``--serve`` page (live overlay, score curve with threshold, event list);
- :mod:`.watch`: the ``ddl watch`` loop (its arguments: :mod:`ddlcore.cli.watch`);
- :mod:`.deployment`, :mod:`.multi_watch`, :mod:`.event_media`: ``ddl watch --cameras``: the deployment
  file, the loop over every camera, and each event's clip and snapshot.
"""
