"""What the customers app announces; chat and the console connect receivers in their AppConfig.ready()."""

from django.dispatch import Signal

# sender=None, record: ReturnRecord, approval_id: str, created: bool
return_committed = Signal()
# sender=None, approval_id: str, code: str, message: str, final: bool
return_commit_failed = Signal()
# sender=Proposal, proposal: Proposal
proposal_filed = Signal()
# sender=Proposal, proposal: Proposal, action: "approved" | "rejected" | "committing" | "committed" | "failed";
# sent after the transaction that changed it has committed
proposal_changed = Signal()
