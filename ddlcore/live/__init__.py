"""Live scoring (``ddl watch``): a source read as fast as it comes, scored one frame at a time.

- :mod:`.scorer`: one frame in, its causal score, box and alarm state out (the calibration's rule);
- :mod:`.sources`: camera index, RTSP/HTTP stream, video file at its frame rate, or a folder being
  written into, read by a thread that keeps a bounded backlog of frames and reconnects;
- :mod:`.overlay`: the frame with the error heatmap, the worst patch's box and the score; the overlay video;
- :mod:`.event_log`: events as JSON lines; :mod:`.stats`: frame rate and latency;
- :mod:`.server`: the ``--serve`` page (live overlay, score curve with threshold, event list);
- :mod:`.multi_watch`: the one watch loop, over every camera of a deployment (``ddl watch --cameras``);
  :mod:`.watch`: ``ddl watch SOURCE``, that loop with one unnamed camera (arguments: :mod:`ddlcore.cli.watch`);
- :mod:`.deployment`, :mod:`.event_media`: the deployment file, and each event's clip and snapshot.
- :mod:`.outputs`: where alarms go besides the event lines (MQTT, Home Assistant, webhooks).
"""
