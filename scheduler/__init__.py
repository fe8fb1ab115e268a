"""The scheduler: admission, dispatch, rescue and periodic work (one active instance)."""
