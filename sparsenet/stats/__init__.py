"""Statistics: metrics, summaries and paired differences, null statistics, intervals, learning curves."""
