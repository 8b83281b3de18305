"""HTTP plumbing shared by the two HTTP entry points, the API (:mod:`smartbank.api`) and the web pages
(:mod:`smartbank.web`): the session credential and who is calling (:mod:`.session`), the permission
table applied to a request (:mod:`.access`), the one error body (:mod:`.errors`) and self-service sign-up
(:mod:`.signup`).

Neither entry point imports the other: both import this package, which imports only the domains' front
doors and the core. The app factory (:func:`smartbank.api.app.create_app`) is the composition root that
mounts the web pages next to the API.
"""
