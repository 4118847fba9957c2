"""The regulator's dashboard: a no-build-step single-page app served by forewarn itself.

The pages (``static/pages/*.js``) are thin clients of the same JSON API as every other
client; nothing here reads the store. See README.md beside this file for the conventions.
"""
