-- The seed's second sample query: events per minute (page_analytics, 1-minute windows).
SELECT window_start, SUM(event_count)
FROM page_analytics
GROUP BY window_start
ORDER BY window_start;
