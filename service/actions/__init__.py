"""State changes, one module per domain, each as ``check_`` (authorise, validate, no I/O) ->
``do_`` (append events to the log and await the commit) -> ``notify_`` (publish after commit)."""
