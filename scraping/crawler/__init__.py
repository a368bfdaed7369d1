"""The Scrapy project of the scraping app: spiders for basketball-reference.com.

Run it through `manage.py crawl` or the `scraping.tasks.crawl` Celery task: both start
`python -m scraping.crawler.runner RUN_ID` in a fresh child process with Django set up.
"""
