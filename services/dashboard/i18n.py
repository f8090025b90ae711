"""The page's words in Thai and English, and its numbers, amounts, durations and dates in
each locale (Babel, CLDR data). One catalogue: every label the page shows comes from here."""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit

from services.dashboard.schemas import STAGES, STEPS

Lang = Literal["en", "th"]
LANGS: Final[tuple[Lang, ...]] = ("en", "th")
DEFAULT_LANG: Final[Lang] = "en"
# Programmes run in Thailand: times are shown in Thai time whatever the server's zone.
ZONE: Final = ZoneInfo("Asia/Bangkok")
# The Buddhist Era counts from 543 BCE: B.E. = C.E. + 543 (2025 is B.E. 2568).
BUDDHIST_ERA_OFFSET: Final = 543

# key -> (English, Thai)
CATALOGUE: Final[dict[str, tuple[str, str]]] = {
    # the page around the figures
    "title": ("SkillBridge dashboard", "แดชบอร์ด SkillBridge"),
    "skip": ("Skip to the figures", "ข้ามไปที่ตัวเลข"),
    "language": ("Language", "ภาษา"),
    "lang.en": ("English", "English"),
    "lang.th": ("ไทย", "ไทย"),
    "sign_in": ("Sign in", "เข้าสู่ระบบ"),
    "sign_out": ("Sign out", "ออกจากระบบ"),
    "key": ("Operator key (read role or higher)", "คีย์ผู้ปฏิบัติงาน (สิทธิ์อ่านขึ้นไป)"),
    "sign_in_help": (
        "Sign in with the operator key you were given. It is not stored in your browser.",
        "เข้าสู่ระบบด้วยคีย์ผู้ปฏิบัติงานที่ได้รับ เบราว์เซอร์จะไม่เก็บคีย์นี้ไว้",
    ),
    "bad_key": ("That key is unknown or revoked.", "ไม่พบคีย์นี้ หรือคีย์ถูกเพิกถอนแล้ว"),
    "no_key": ("Enter a key.", "กรุณาใส่คีย์"),
    "signed_in_as": ("Signed in as", "เข้าสู่ระบบในชื่อ"),
    "filters": ("Filters", "ตัวกรอง"),
    "programme": ("Programme", "โครงการ"),
    "year": ("Year", "ปี"),
    "province": ("Province (code)", "จังหวัด (รหัส)"),
    "occupation": ("Occupation", "อาชีพ"),
    "lender": ("Lender", "ผู้ให้สินเชื่อ"),
    "all": ("All", "ทั้งหมด"),
    "apply": ("Apply", "ใช้ตัวกรอง"),
    "clear": ("Clear filters", "ล้างตัวกรอง"),
    "as_of": ("Figures as of", "ข้อมูล ณ"),
    "events_taken": ("events taken in", "เหตุการณ์ที่รับเข้า"),
    "no_events": ("No events yet", "ยังไม่มีเหตุการณ์"),
    "updated": ("Figures updated", "อัปเดตตัวเลขแล้ว"),
    "download_csv": ("Download CSV", "ดาวน์โหลด CSV"),
    "no_rows": ("No data for these filters.", "ไม่มีข้อมูลตามตัวกรองนี้"),
    "chart_note": (
        "The chart draws the table below it.",
        "แผนภูมินี้แสดงข้อมูลเดียวกับตารางด้านล่าง",
    ),
    # sections
    "funnel": ("Funnel", "เส้นทางผู้เข้าร่วม"),
    "funnel_table": ("People at each stage", "จำนวนคนในแต่ละขั้นตอน"),
    "drop_outs": ("Where people stop, and why", "จุดที่ผู้เข้าร่วมหยุด และเหตุผล"),
    "targets": ("Targets against achievement", "เป้าหมายเทียบกับผลสำเร็จ"),
    "time_to_credit": ("Time to credit", "ระยะเวลาจนได้รับสินเชื่อ"),
    "time_to_credit_sla": ("SLA per lender and product", "SLA ตามผู้ให้สินเชื่อและผลิตภัณฑ์"),
    "time_to_credit_steps": ("Time per step", "ระยะเวลาแต่ละขั้นตอน"),
    "lenders": ("Lenders", "ผู้ให้สินเชื่อ"),
    "selection": ("Fair selection", "การคัดเลือกอย่างเป็นธรรม"),
    "selection_bands": ("Seats by household income band", "ที่นั่งตามช่วงรายได้ครัวเรือน"),
    "selection_villages": (
        "Seats by village against the village cap",
        "ที่นั่งรายหมู่บ้านเทียบกับเพดานต่อหมู่บ้าน",
    ),
    "outcomes": (
        "Outcomes: household income band before and after",
        "ผลลัพธ์: ช่วงรายได้ครัวเรือนก่อนและหลังการอบรม",
    ),
    "outcomes_bands": (
        "Households per income band, before and after",
        "จำนวนครัวเรือนตามช่วงรายได้ ก่อนและหลังการอบรม",
    ),
    # columns
    "stage": ("Stage", "ขั้นตอน"),
    "overall": ("All programmes", "ทุกโครงการ"),
    "kind": ("Kind", "ประเภท"),
    "reason": ("Reason", "เหตุผล"),
    "people": ("People", "จำนวนคน"),
    "place_kind": ("Level", "ระดับ"),
    "place": ("Place", "พื้นที่"),
    "target": ("Target", "เป้าหมาย"),
    "achieved": ("Achieved (completed)", "ผลสำเร็จ (อบรมจบ)"),
    "percent": ("% of target", "% ของเป้าหมาย"),
    "product": ("Product", "ผลิตภัณฑ์"),
    "sla": ("SLA", "SLA"),
    "referrals": ("Referrals", "การส่งต่อ"),
    "breached": ("Breached the SLA", "เกิน SLA"),
    "step": ("Step", "ขั้นตอน"),
    "n": ("Referrals in step", "จำนวนที่ผ่านขั้นตอน"),
    "median": ("Median", "ค่ามัธยฐาน"),
    "p90": ("90th percentile", "เปอร์เซ็นไทล์ที่ 90"),
    "held": ("Waiting for consent", "รอความยินยอม"),
    "acknowledged": ("Acknowledged", "รับเรื่องแล้ว"),
    "approved": ("Approved", "อนุมัติ"),
    "declined": ("Declined", "ปฏิเสธ"),
    "approval_rate": ("Approval rate", "อัตราการอนุมัติ"),
    "disbursed": ("Disbursed", "เบิกจ่ายแล้ว"),
    "amount_approved": ("Amount approved", "วงเงินอนุมัติ"),
    "amount_disbursed": ("Amount disbursed", "ยอดเบิกจ่าย"),
    "income_band": ("Household income band", "ช่วงรายได้ครัวเรือน"),
    "band_floor": ("Band from (THB a year)", "รายได้ตั้งแต่ (บาทต่อปี)"),
    "applied": ("Applied", "สมัคร"),
    "enrolled": ("Enrolled", "ได้ที่นั่ง"),
    "waitlisted": ("Waitlisted", "รายชื่อสำรอง"),
    "cohort": ("Cohort", "รุ่น"),
    "village": ("Village", "หมู่บ้าน"),
    "village_cap": ("Village cap", "เพดานต่อหมู่บ้าน"),
    "cap_state": ("Against the cap", "เทียบกับเพดาน"),
    "cap.over": ("Over the cap", "เกินเพดาน"),
    "cap.at": ("At the cap", "เต็มเพดาน"),
    "cap.under": ("Under the cap", "ต่ำกว่าเพดาน"),
    "cap.none": ("No cap", "ไม่มีเพดาน"),
    "households": ("Households trained", "ครัวเรือนที่อบรมจบ"),
    "improved": ("Higher band after", "รายได้สูงขึ้น"),
    "unchanged": ("Unchanged", "เท่าเดิม"),
    "lower": ("Lower band after", "รายได้ลดลง"),
    "no_record_after": ("No record after", "ยังไม่มีข้อมูลหลังอบรม"),
    "before": ("Before", "ก่อน"),
    "after": ("After", "หลัง"),
    "unknown": ("Unknown", "ไม่ทราบ"),
    "series.target": ("Target", "เป้าหมาย"),
    "series.achieved": ("Achieved", "ผลสำเร็จ"),
    # funnel stages (schemas.STAGES)
    "stage.registered": ("Registered", "ลงทะเบียน"),
    "stage.applied": ("Applied", "สมัคร"),
    "stage.enrolled": ("Enrolled", "ได้ที่นั่ง"),
    "stage.completed": ("Completed", "อบรมจบ"),
    "stage.certified": ("Certified", "ได้รับใบรับรอง"),
    "stage.referred": ("Referred to a lender", "ส่งต่อผู้ให้สินเชื่อ"),
    "stage.acknowledged": ("Acknowledged", "ผู้ให้สินเชื่อรับเรื่อง"),
    "stage.approved": ("Approved", "อนุมัติ"),
    "stage.disbursed": ("Disbursed", "เบิกจ่ายแล้ว"),
    # where a journey stopped (schemas.DropKind)
    "drop.waitlisted": ("Waitlisted", "อยู่ในรายชื่อสำรอง"),
    "drop.withdrew": ("Withdrew", "ถอนตัว"),
    "drop.not-completed": ("Did not complete", "อบรมไม่จบ"),
    "drop.failed-units": ("Failed units", "ไม่ผ่านหน่วยสมรรถนะ"),
    "drop.held-for-consent": ("Held for consent", "รอความยินยอม"),
    "drop.declined": ("Declined", "ถูกปฏิเสธ"),
    "drop.expired": ("Expired", "หมดอายุ"),
    "drop.cancelled": ("Cancelled", "ยกเลิก"),
    # time to credit's steps (schemas.STEPS)
    "step.completion_to_certificate": ("Completion → certificate", "อบรมจบ → ได้ใบรับรอง"),
    "step.certificate_to_referral": ("Certificate → referral", "ได้ใบรับรอง → ส่งต่อ"),
    "step.referral_to_decision": ("Referral → decision", "ส่งต่อ → ผลพิจารณา"),
    "step.decision_to_disbursement": ("Decision → disbursement", "ผลพิจารณา → เบิกจ่าย"),
    "step.completion_to_disbursement": (
        "Completion → disbursement (whole way)",
        "อบรมจบ → เบิกจ่าย (ตลอดเส้นทาง)",
    ),
    # target levels (schemas.TargetRow.place_kind)
    "place.programme": ("Whole programme", "ทั้งโครงการ"),
    "place.estate": ("Industrial estate", "นิคมอุตสาหกรรม"),
    "place.province": ("Province", "จังหวัด"),
    "place.village": ("Village", "หมู่บ้าน"),
}

DROP_KINDS: Final = (
    "waitlisted",
    "withdrew",
    "not-completed",
    "failed-units",
    "held-for-consent",
    "declined",
    "expired",
    "cancelled",
)


def text(lang: Lang, key: str) -> str:
    """The label `key` in `lang`; an unknown key is a bug, so it raises."""
    english, thai = CATALOGUE[key]
    return thai if lang == "th" else english


def as_lang(value: str | None) -> Lang | None:
    """`value` if it names a language the page has (`th`, `th-TH`, `EN`...), else None."""
    if not value:
        return None
    primary = value.strip().lower().replace("_", "-").split("-")[0]
    return "th" if primary == "th" else "en" if primary == "en" else None


def from_accept_language(header: str | None) -> Lang | None:
    """The first language of ours the browser prefers (RFC 9110 Accept-Language, q-values)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag))
    for _, _, tag in sorted(ranked):
        lang = as_lang(tag)
        if lang is not None:
            return lang
    return None


def choose(query: str | None, cookie: str | None, accept_language: str | None) -> Lang:
    """The switch (`?lang=`) first, then the remembered choice, then the browser's."""
    return (
        as_lang(query) or as_lang(cookie) or from_accept_language(accept_language) or DEFAULT_LANG
    )


def _with_year(pattern: str, year: int) -> str:
    """`pattern` (an LDML date pattern) with its year fields replaced by `year` as a literal.
    Letters inside single quotes are literal text already and stay as they are."""
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            quoted = not quoted
            out.append(char)
            i += 1
        elif char in "yY" and not quoted:
            while i < len(pattern) and pattern[i] == char:
                i += 1
            out.append(f"'{year}'")
        else:
            out.append(char)
            i += 1
    return "".join(out)


class Formats:
    """Numbers, amounts, durations and dates as a person reading `lang` expects them."""

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang
        self.locale = Locale.parse(lang)

    def number(self, value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float | None) -> str:
        """`value` is already a percentage (122.3 for 1,223 of 1,000), as the figures give it."""
        if value is None:
            return "–"
        return format_percent(value / 100, format="#,##0.#%", locale=self.locale)

    def money(self, baht: int | None) -> str:
        if baht is None:
            return "–"
        return format_currency(
            baht, "THB", format="¤#,##0", currency_digits=False, locale=self.locale
        )

    def days(self, days: int | None) -> str:
        if days is None:
            return "–"
        return format_unit(days, "duration-day", length="long", locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        """Human-readable: "40 sec", "12.5 min", "5.5 hr", "2.5 days" (Thai: "2.5 วัน")."""
        if seconds is None:
            return "–"
        for unit, size, below in (
            ("duration-second", 1, 90),
            ("duration-minute", 60, 90 * 60),
            ("duration-hour", 3600, 36 * 3600),
        ):
            if seconds < below:
                return format_unit(
                    seconds / size, unit, length="short", format="#,##0.#", locale=self.locale
                )
        return format_unit(
            seconds / 86400, "duration-day", length="short", format="#,##0.#", locale=self.locale
        )

    def year(self, year: int | None) -> str:
        """A Gregorian year as the reader counts: B.E. in Thai (no grouping: 2568, not 2,568)."""
        if year is None:
            return "–"
        return str(year + BUDDHIST_ERA_OFFSET if self.lang == "th" else year)

    def datetime(self, moment: datetime | None) -> str:
        """A moment in Thai time, in the locale's medium date and short time.

        Babel knows only the Gregorian calendar, and Thai readers count years in the
        Buddhist Era (B.E. = C.E. + 543; the day and month are the same), so in Thai the
        pattern's year field is swapped for the B.E. year before Babel formats the rest."""
        if moment is None:
            return "–"
        local = moment.astimezone(ZONE)
        date_pattern = self.locale.date_formats["medium"].pattern
        time_pattern = self.locale.time_formats["short"].pattern
        pattern = str(self.locale.datetime_formats["medium"])
        pattern = pattern.replace("{1}", date_pattern).replace("{0}", time_pattern)
        if self.lang == "th":
            pattern = _with_year(pattern, local.year + BUDDHIST_ERA_OFFSET)
        return format_datetime(local, format=pattern, tzinfo=ZONE, locale=self.locale)

    def separators(self) -> str:
        """Decimal then group symbol, as Plotly's `separators` takes them."""
        symbols = self.locale.number_symbols["latn"]
        return str(symbols["decimal"]) + str(symbols["group"])


def chart_labels(lang: Lang) -> dict[str, str]:
    """What the charts' script needs to name things: the same words as the tables."""
    keys = [
        *(f"stage.{stage}" for stage in STAGES),
        *(f"step.{step}" for step in STEPS),
        "overall",
        "series.target",
        "series.achieved",
        "median",
        "p90",
        "referrals",
        "approved",
        "disbursed",
        "applied",
        "enrolled",
        "waitlisted",
        "village_cap",
        "improved",
        "unchanged",
        "lower",
        "no_record_after",
        "unknown",
        "updated",
    ]
    return {key: text(lang, key) for key in keys}
