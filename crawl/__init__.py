"""Weibo crawling: endpoints, response parsing, the crawler (paging, resume, politeness), image download."""
