"""Bulk import of people and households from CSV: a streamed upload, then a resumable worker.

CSV format
----------
UTF-8 text (a byte-order mark is allowed, as Excel writes one), comma-separated, quoted as in
RFC 4180: a cell holding a comma, a quote or a line break is enclosed in double quotes, and a
quote inside it is doubled. The first non-blank record is the header; column names may come in
any order, and case and surrounding spaces are ignored. The columns:

    national_id      required; the 13-digit Thai ID (dashes and spaces allowed)
    first_name_th    required
    last_name_th     required
    first_name_en, last_name_en
    birth_date       YYYY-MM-DD or DD/MM/YYYY; Buddhist Era years (e.g. 12/05/2530) accepted
    sex              female, male or other
    phone            9 to 15 digits, optionally with a leading +
    house_no, street, subdistrict, district
    village_code     a village registered beforehand (POST /places/villages), in the province
    province_code    required; the official 2-digit code (10 = Bangkok)
    household_code   optional: the programme's household code; found, or created
    monthly_income   optional: whole THB per month; needs a household_code on the same row
    consents         optional: consent purposes separated by ";" (e.g. loan-referral), each
                     granted as POST /people grants {"purpose": ...}

A header with another column, a repeated one, or without a required one rejects the whole
file at upload (422, field "header"), before anything is stored; so does text that is not UTF-8
or not CSV. An empty cell means "not given". Blank lines and rows of empty cells are skipped
and not counted. Lines are physical lines of the file (the header is line 1 when it comes
first); a record with a quoted line break is reported at the line it starts on.

What a row does
---------------
- Invalid cells: rejected, one report entry per field at fault, named as in the HTTP API
  (`national_id`, `address.province_code`, `household_code`, ...). A row whose cell count
  differs from the header's is rejected with field `row`.
- A national ID accepted on an earlier line of the same file: rejected, field `national_id`,
  "duplicate of line N in this file".
- A national ID already registered: when every cell the row gives matches the registry, the
  row is `unchanged` (so importing a file again creates nothing); otherwise it is rejected
  with `existing_person_id` (an import never overwrites a person; use PATCH /people/{id}).
- consents: an unknown purpose is rejected as `consents.N.purpose`, a repeated one as
  `consents`. A registered person without a live consent for a purpose the row gives is
  rejected (field `consents`, with `existing_person_id`): an import grants no consent to
  people registered before.
- Otherwise the person is registered exactly as POST /people does it (same rules, same
  PersonRegistered event, same audit entry; each consent its ConsentGranted and entry);
  likely duplicates (same Thai name, birth date and province) are registered and flagged for
  review, never rejected (`flagged` counts them).
- household_code: the household with that code is found, or created in the person's province
  and village; the person joins it. A person already in another household is rejected (field
  `household_code`). monthly_income is recorded only when it differs from the household's
  current income; a row giving another income than an earlier line for the same household is
  rejected, so a file has one income per household and a re-import records nothing.

Crash safety
------------
The upload is kept in the database (ImportChunk, about 1 MiB each), so any replica can run the
job. Each batch of `import_batch_rows` rows commits its people, households, events, audit,
rejections and the job's counters (`rows_done`, ...) in one transaction: after a crash the
worker skips the `rows_done` rows already committed (rebuilding what it must remember of them)
and a batch that was cut short is redone whole. Each accepted line's person id is kept
(ImportPerson, in the batch's transaction) for GET /imports/{id}/people. Job states: queued,
running, done, failed.
"""

from services.registry.handlers.imports.batch import Batch, Counts, FileState
from services.registry.handlers.imports.jobs import (
    ACTIVE,
    CHUNK_BYTES,
    MAX_FILE_BYTES,
    MAX_HEADER_BYTES,
    PeoplePage,
    RejectionPage,
    create_job,
    get_job,
    list_jobs,
    rejections,
    row_people,
    wake_event,
)
from services.registry.handlers.imports.rows import (
    COLUMNS,
    REQUIRED,
    Problem,
    Records,
    Row,
    check_header,
    parse_row,
)
from services.registry.handlers.imports.worker import ImportWorker, LostJob, run_worker

__all__ = [
    "ACTIVE",
    "CHUNK_BYTES",
    "COLUMNS",
    "MAX_FILE_BYTES",
    "MAX_HEADER_BYTES",
    "REQUIRED",
    "Batch",
    "Counts",
    "FileState",
    "ImportWorker",
    "LostJob",
    "PeoplePage",
    "Problem",
    "Records",
    "RejectionPage",
    "Row",
    "check_header",
    "create_job",
    "get_job",
    "list_jobs",
    "parse_row",
    "rejections",
    "row_people",
    "run_worker",
    "wake_event",
]
