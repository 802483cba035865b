"""What a valid request and an answer look like: one marshmallow schema each.

A schema declared here gives both the check and the documentation: services validate with it
(``base.load`` raises ``ValidationFailed`` keyed by field paths, messages in the reader's
language) and ``views/api.py`` generates the OpenAPI document from it with apispec.

* ``base``: ``Message``, ``ValidationFailed``, ``load``, the base classes (``RequestSchema``
  refuses unknown fields, ``ParametersSchema`` for query strings and headers,
  ``AnswerSchema``) and ``ErrorSchema``, the error body of every endpoint.
* ``fields``: the field types (``Text``, ``Choice``, ``Flag``, ``PastDate``, ``Department``,
  ``LanguageTag``, ``Items``, ``Object``…), each with its limits, its messages and its JSON
  Schema keywords.
* ``reports``: the report body (API and staff form alike), its answer, ``Idempotency-Key``.
* ``alerts``: the alert feed's query and answer, the identifier check's body and answer.

A new endpoint's schemas go in a module named after its area (``schemas/subscriptions.py``…).
"""
