"""Front-end files (Leaflet and folium's plugins) served from our own app instead of CDNs.

`manifest` says what is vendored and which CDN URL each file replaces; `fetch` installs the
files from the npm registry into ``maps/static/vendor/``.
"""
