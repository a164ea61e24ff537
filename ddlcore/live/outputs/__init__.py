"""Where ``ddl watch`` sends its alarms besides the event lines (the ``outputs`` section; docs/alarms.md).

:mod:`.alarm_outputs` is what the watch loop talks to; :mod:`.messages` the event messages; :mod:`.mqtt` and
:mod:`.webhook` the outputs; :mod:`.outbox` their bounded queue; :mod:`.secrets` where passwords come from;
:mod:`.settings` the section's typed settings.
"""
