"""The revision policy: a workflow change never alters the path of a dossier already under way.

A dossier records one patch marker, the revision of the workflow it started on, and follows that revision's paths
to its end; replaying its history finds the marker again. One marker rather than one per change, because the SDK
follows each marker with a search-attribute upsert of its own. A change to the workflow bumps `REVISION` and asks
`progress.revision >= n` where its path differs. Dossiers started before revisions existed carry no such marker
(revision 0): each of the changes below answers them by a patch marker of its own, recorded when such a dossier first
reached the changed code.
"""

from __future__ import annotations

from temporalio import workflow

REVISION = 5
REVISION_PATCH = "dossier-revision-{}"

# Revision 1 takes every change below, and also: a dossier's status and units are indexed only when they change, its
# units are kept while it waits on another system, and a transition is published once the calendar has planned the
# step it starts.

# Revision 2: whatever path a message takes, the registry decides who may act. A decision sent as a Signal (straight
# to Temporal, past the API) is taken only from an officer the unit registry knows, active, holding the step's role at
# its unit in their own right or by a delegation in force, as a local activity reads it; the capacities the message
# claims are not trusted. A Signal whose payload does not decode is refused on the timeline with what was received
# (bounded), where the SDK used to drop it with a log line. Dossiers on earlier revisions keep their path.
REGISTRY_DECIDES = 2

# Revision 3: the registry decides for Updates too. An officer's decision, apology letter or extension sent as an
# Update straight to Temporal is taken only from an officer the registry knows, active, in the capacities it gives
# (a local activity, as for a Signal); refused otherwise, and the refusal is on the timeline. A Signal of a name the
# dossier does not take is refused on the timeline with what was received, instead of being ignored. An apology
# letter's own new appointment is a promise as well: missed without a further letter, the dossier is flagged
# "missed without apology" then.
REGISTRY_DECIDES_UPDATES = 3

# Revision 4: agencies that answer later. An adapter step whose definition says `answer: callback` takes the call's
# response as an acknowledgement and waits for the agency's answer (an `agency_answer` Update, or its Signal twin,
# naming the call), telling the unit's leader once `answer_within_hours` have passed without one. Dossiers on earlier
# revisions take the response as the answer, as they did. A result handed back at the counter (a `hand_back` step
# after the result step) leaves the dossier at status 9 until an officer records the hand-over; then status 10.
AGENCIES_ANSWER_LATER = 4
HAND_BACK = 4

# Revision 5: fees paid through the payment platform, official letters and Decision 766 in the officers' hands.
# (Each change below documents what its dossiers do differently; dossiers on earlier revisions keep their path.)
# PAYMENT_PLATFORM: a fee step asks the national payment platform to collect the fee (an activity) and records the
# platform's request (id, pay page, expiry) in its fee request; a `pay` counts only when it names that request (the
# API relays the platform's signed confirmation), never the applicant's word, and only once the platform, asked by
# the `payment_status` activity in the Update's or Signal's handler, says the request is paid for that amount (else
# the message is refused, on the timeline). While it waits, the platform is asked for the request's status on a
# durable timer, the interval doubling after each unpaid answer up to an hour (or the check interval if longer), so a
# lost confirmation still moves it on; the dossier stops for non-payment only when the platform says the request
# takes no payment any more (expired past the fee's `pay_within_hours`, cancelled, or unknown to it: 404). A dossier
# that ends while a request is open has it cancelled (the `cancel_payment` activity; a payment that came first is
# recorded and refunded), and one that ends without completing after paying has its platform payments refunded (an
# activity each, on the timeline), both before its `finished` event.
PAYMENT_PLATFORM = 5
# Official letters: an activity issues each letter of Circular 01/2018 when its event happens (form 02 with a supplement
# request, 03 with a refusal at reception or during handling, 04 with an apology, 05 when processing stops otherwise:
# an agency's refusal, a withdrawal, a stop with the parent), signed and deposited like a result, with a timeline entry
# `letter_issued`; the apology's Update answers once its letter is issued.
OFFICIAL_LETTERS = 5
# Decision 766: an apology letter and an extension are taken only from an officer holding the definition's
# `apology_role` / `extension_role` (the leader by default) at a unit acting on the dossier, once each: a second
# apology is refused. The apology letter's promise, missed, flags the dossier as missed without apology (no further
# letter can be awaited); on revisions 3 and 4 the flag waits for "a further letter" that may still come.
DECISION_766 = 5

# Results are rendered, signed and deposited by an activity; without it the result step only lists references.
SIGNED_RESULTS = "signed-results"
# A dossier whose processing ends while interconnected child dossiers are under way (withdrawn, stopped by a sibling
# branch, or itself stopped by its own parent) stops them first: a child asked to stop (a Temporal cancellation) ends
# with status 8 instead of being cancelled mid-step, and a branch never goes on past a child that stopped with it.
STOP_CHILDREN_WITH_PARENT = "stop-children-with-parent"
# What one workflow task decides is published together: its transitions and the portal pushes queued with them in
# one activity (the portal lane takes over when the portal is slow or down), the search attributes changed since the
# last batch in one upsert. Without it: one activity per lane and an upsert per transition.
PUBLISH_TOGETHER = "publish-together"
# That publication is a local activity: the worker that decided the transitions writes them within the same workflow
# task, so a read-model write costs the history one marker instead of an activity's three events and a workflow task
# of its own, and an officer's decision is answered in the task that applied it.
PUBLISH_LOCALLY = "publish-locally"


def started_revision() -> int:
    """The revision this dossier started on: recorded by its first workflow task, found again on replay."""
    for revision in range(REVISION, 0, -1):
        if workflow.patched(REVISION_PATCH.format(revision)):
            return revision
    return 0


def follows(revision: int, patch: str) -> bool:
    """Whether a dossier takes the path a change made before revisions introduced: every dossier started on a
    revision does; an older one answers by that change's own patch marker."""
    return revision >= 1 or workflow.patched(patch)
