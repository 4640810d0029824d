"""Evidence that holds up (#17): a hash chain over everything captured, signed checkpoints of
its head, verification of the database and of exported bundles.

The last pipeline stage: ``EvidenceHook`` appends the chain entries of a batch's versions in the
batch's own transaction; media jobs and reviews append theirs in their own transactions."""
