"""The dossier service: intake, messages to the workflow with their retry rule, and the views of a dossier, which
the API's routes and pages both call."""
