"""The template drafter's parts: template syntax, situations, wording and facts from notes."""
