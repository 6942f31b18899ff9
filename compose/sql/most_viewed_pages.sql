-- The seed's first sample query: most viewed pages (raw_web_events, written by wa-dataflow).
SELECT page_url, COUNT(*) AS views
FROM raw_web_events
WHERE event_type = 'page_view'
GROUP BY page_url
ORDER BY views DESC;
