"""The loop's steps as plain functions over a store and a CRM connector.

Each commits its own work and is safe to run twice; the in-process pipeline calls them, and
so can a worker.
"""
