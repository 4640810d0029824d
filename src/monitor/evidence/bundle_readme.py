"""The README.txt of an evidence bundle: how a third party checks it, with or without monitor."""

README = """\
Evidence bundle: Telegram post {channel}/{message_id}
=====================================================

This bundle was exported by "monitor". It holds what the monitor captured of one post (every
text version, its image, the text read from the image, the analysts' review decisions), the
entries of the monitor's hash chain that cover them, and the signed checkpoints of that chain.

It proves: these exact bytes were captured by the monitor no later than the time of the signed
checkpoint that covers them (and of the RFC 3161 time-stamp when one is included), and nothing
in it was changed afterwards. It does NOT prove that what Telegram served was true, or that the
channel's owner wrote it: only that the monitor received it from Telegram (see metadata.json:
source and url) at the capture time recorded in the chain.

The checkpoints are signed by the key in public_key.pem, fingerprint

    {fingerprint}

Compare this fingerprint with the one the monitor's operators published (`monitor evidence
key`): anyone can make a self-consistent bundle with a key of their own.

1. With monitor installed (pip install monitor; no database needed)

    monitor evidence verify THIS_FILE.zip

   prints what was checked and exits 0, or names what fails and exits 1.
   Add --key PUBLISHED_KEY.pem to insist on the operators' key. Time-stamps are checked
   against their checkpoint's bytes; their signatures too when evidence_tsa_certificate
   names the TSA's CA certificate (MONITOR_EVIDENCE_TSA_CERTIFICATE=TSA_CA.pem).

2. By hand (sha256sum and openssl 3)

   Unzip the bundle into an empty folder, then:

   a. The key's fingerprint (sha256 of the 32 raw key bytes):

        openssl pkey -pubin -in public_key.pem -outform DER | tail -c 32 | sha256sum

   b. Each checkpoint's signature (checkpoints.json lists them):

        openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin \\
            -in checkpoints/ID.msg -sigfile checkpoints/ID.sig

      prints "Signature Verified Successfully". ID.msg is the signed text, four lines:
      monitor-checkpoint/1, the entry number (seq), the chain's head hash at that entry,
      and the signing time.

      A checkpoint with an RFC 3161 time-stamp has checkpoints/ID.tsr (checkpoints.json:
      tsa_url). The time-stamping authority signed the sha256 of ID.msg at its own time:

        openssl ts -reply -in checkpoints/ID.tsr -text          # its time ("Time stamp")
        openssl ts -verify -data checkpoints/ID.msg -in checkpoints/ID.tsr \\
            -CAfile THE_TSA_CA.pem

      prints "Verification: OK" (the TSA's CA certificate comes from the TSA, not from
      this bundle).

   c. The content: each file's sha256 is an entry's content_sha256 in chain.jsonl:

        sha256sum versions/*.txt media/* records/*

      versions/SHA256.txt  a text version: the entry of kind "version", content SHA256,
                           or a line of a batch's record (below)
      media/SHA256.EXT     the image: the entry of kind "media", content SHA256
      records/SEQ.json     entry SEQ: an OCR result, a review decision or a deletion
      records/SEQ.txt      entry SEQ, of kind "batch": the first versions of the posts the
                           monitor stored together, one line "SUBJECT SHA256" each. The
                           post's first version is its line:

        grep '^{channel}/{message_id}/version/' records/SEQ.txt

                           and that line's SHA256 is the sha256 of a versions/ file.

   d. Each entry of chain.jsonl: its entry_hash is the sha256 of seven lines joined by a
      newline, no newline at the end:

        printf 'monitor-evidence/1\\n%s\\n%s\\n%s\\n%s\\n%s\\n%s' \\
            SEQ KIND SUBJECT CONTENT_SHA256 PREV_HASH CREATED_AT | sha256sum

      each entry's prev_hash is the entry_hash of the entry before it, and the entry whose
      seq a checkpoint names has the entry_hash that checkpoint's ID.msg holds.

   The chain also holds entries of other posts captured in between, and a batch's record
   lists the other posts stored with this one; only their hashes and names are included, so
   that the links from this post's entries to a checkpoint can be recomputed. post.json,
   versions.json, ocr.json and metadata.json are for reading: the proof is in the hashed
   files above (`monitor evidence verify` also checks that post.json's text is one of them).
"""
