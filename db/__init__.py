"""db: the contract between the bot and the generator — job rows, their states and payloads.

The bot and the generator import ``db``, never each other.
``db.queue.JobQueue`` is the only job API.
"""
