"""What the timeline says of each event: a message key the workflow records with the event's parameters, rendered
for each reader at read time (api/timeline_text.py) in their language.

Each message has the officers' wording (the detail they need: units, roles, systems, references) and the applicant's
(plain words, no internals). Both are written in Vietnamese, the source language; the English is in the catalog
(infrastructure/locale). Parameters named `unit`, `role`, `channel`, `outcome` or `amount` are codes and numbers the
reader sees as names and formatted numbers; the others are shown as recorded (step and branch names as the
definition wrote them, dates as dd/mm/yyyy, references)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.wording import mark


@dataclass(frozen=True)
class TimelineMessage:
    officer: str
    applicant: str


_SAME = object()


def _message(officer: str, applicant: str | object = _SAME) -> TimelineMessage:
    return TimelineMessage(officer, officer if applicant is _SAME else str(applicant))


MESSAGES: dict[str, TimelineMessage] = {
    "received": _message(
        mark("Tiếp nhận hồ sơ tại {unit} (kênh {channel})"), mark("Hồ sơ đã được tiếp nhận tại {unit}.")
    ),
    "finished": _message(mark("Kết thúc xử lý: {outcome}")),
    "finished_partial": _message(mark("Kết thúc xử lý: {outcome} (kết quả một phần)")),
    "fee_already_paid": _message(mark("{step}: đã nộp phí, lệ phí")),
    "no_fee_due": _message(mark("{step}: không phải nộp phí, lệ phí")),
    "fee_requested": _message(mark("{step}: phải nộp {amount} đồng"), mark("Cần nộp {amount} đồng phí, lệ phí.")),
    "fee_paid": _message(
        mark("{step}: đã nộp {amount} đồng (biên lai {receipt})"), mark("Đã nộp {amount} đồng (biên lai {receipt}).")
    ),
    "fee_requested_on_platform": _message(
        mark("{step}: phải nộp {amount} đồng qua Cổng thanh toán (yêu cầu {payment})"),
        mark("Cần nộp {amount} đồng phí, lệ phí qua Cổng thanh toán quốc gia."),
    ),
    "fee_paid_on_platform": _message(
        mark("{step}: Cổng thanh toán xác nhận đã nộp {amount} đồng (giao dịch {receipt})"),
        mark("Đã nộp {amount} đồng qua Cổng thanh toán (giao dịch {receipt})."),
    ),
    "fee_expired": _message(
        mark("{step}: yêu cầu thanh toán {payment} hết hạn sau {hours} giờ chưa nộp; dừng xử lý"),
        mark("Hồ sơ dừng xử lý vì phí, lệ phí chưa được nộp trong {hours} giờ."),
    ),
    "fee_request_void": _message(
        mark("{step}: Cổng thanh toán không còn nhận nộp cho yêu cầu thanh toán {payment} ({status}); dừng xử lý"),
        mark("Hồ sơ dừng xử lý vì phí, lệ phí chưa được nộp và yêu cầu thanh toán không còn hiệu lực."),
    ),
    "fee_request_cancelled": _message(
        mark("Đã huỷ yêu cầu thanh toán {payment} trên Cổng thanh toán vì hồ sơ kết thúc xử lý"),
        mark("Yêu cầu nộp phí, lệ phí đã được huỷ vì hồ sơ kết thúc xử lý."),
    ),
    "fee_cancel_refused": _message(
        mark("Cổng thanh toán không huỷ yêu cầu thanh toán {payment}: {reason}"),
        mark("Yêu cầu nộp phí, lệ phí không còn hiệu lực vì hồ sơ kết thúc xử lý."),
    ),
    "fee_refunded": _message(
        mark("Yêu cầu Cổng thanh toán hoàn trả {amount} đồng (giao dịch {receipt}, hoàn trả {refund})"),
        mark("Đã yêu cầu hoàn trả {amount} đồng phí, lệ phí đã nộp."),
    ),
    "fee_refund_refused": _message(
        mark("Cổng thanh toán từ chối hoàn trả {amount} đồng (giao dịch {receipt}): {reason}"),
        mark("Chưa hoàn trả được {amount} đồng phí, lệ phí đã nộp; cơ quan sẽ liên hệ."),
    ),
    "step_skipped": _message(mark("{step}: bỏ qua ({condition})"), mark("{step}: không cần thực hiện.")),
    "result_signing": _message(
        mark("{step}: ký số với danh nghĩa {unit} và lưu vào kho kết quả điện tử"),
        mark("Đang ký số và phát hành kết quả."),
    ),
    "result_issued": _message(
        mark("{step}: đã phát hành kết quả ({results}), ký số bởi {unit}"), mark("Đã có kết quả: {results}.")
    ),
    "result_issued_store_refused": _message(
        mark("{step}: đã phát hành kết quả ({results}), ký số bởi {unit}; kho kết quả từ chối lưu {refused}"),
        mark("Đã có kết quả: {results}."),
    ),
    "result_issued_by_children": _message(
        mark("{step}: đã phát hành kết quả ({results})"), mark("Đã có kết quả: {results}.")
    ),
    "agency_calling": _message(
        mark("{step}: gửi yêu cầu đến hệ thống {system} ({operation})"),
        mark("{step}: đang chờ cơ quan liên quan trả lời."),
    ),
    "agency_refused": _message(
        mark("{step}: hệ thống {system} không xử lý được yêu cầu ({reason})"),
        mark("{step}: cơ quan liên quan không xử lý được yêu cầu."),
    ),
    "notification_refused": _message(
        mark("{step}: không gửi được thông báo qua hệ thống {system} ({reason})"),
        mark("{step}: chưa gửi được thông báo."),
    ),
    "agency_answered": _message(
        mark("{step}: hệ thống {system} đã trả lời (số tham chiếu {reference})"),
        mark("{step}: cơ quan liên quan đã trả lời."),
    ),
    "agency_acknowledged": _message(
        mark("{step}: hệ thống {system} đã nhận yêu cầu (số tham chiếu {reference}); chờ cơ quan trả lời"),
        mark("{step}: đã gửi cơ quan liên quan; đang chờ cơ quan trả lời."),
    ),
    "agency_late": _message(
        mark("{step}: hệ thống {system} chưa trả lời sau {hours} giờ; đã báo lãnh đạo {unit}"),
        mark("{step}: cơ quan liên quan chưa trả lời đúng hẹn; đã báo lãnh đạo đơn vị."),
    ),
    "waiting_for_officer": _message(
        mark("{step}: chờ cán bộ {role} của {unit}"), mark("{step}: đang được {unit} xử lý.")
    ),
    "approved": _message(mark("{step}: đồng ý")),
    "handed_over": _message(
        mark("{step}: đã trao kết quả cho {recipient}"),
        mark("Kết quả đã được trao tại bộ phận một cửa cho {recipient}."),
    ),
    "waiting_at_the_counter": _message(
        mark("{step}: kết quả chờ trao tại bộ phận một cửa của {unit}"),
        mark("Kết quả đã sẵn sàng; mời bạn đến bộ phận một cửa của {unit} để nhận."),
    ),
    "returned": _message(
        mark("{step}: trả lại bước {to} — {reason}"), mark("{step}: chuyển lại bước {to} để xem xét lại.")
    ),
    "rejected": _message(mark("{step}: từ chối — {reason}")),
    "supplement_requested": _message(
        mark("{step}: yêu cầu bổ sung hồ sơ — {missing}"), mark("Cần bổ sung hồ sơ: {missing}.")
    ),
    "supplemented": _message(
        mark("Người nộp đã bổ sung hồ sơ ({changed}); ngày hẹn trả kết quả {previous} → {appointment}"),
        mark("Đã bổ sung hồ sơ; ngày hẹn trả kết quả mới: {appointment}."),
    ),
    "branches_started": _message(mark("{step}: {branches}")),
    "no_branch_applies": _message(mark("{step}: không có nhánh nào áp dụng")),
    "branch_refused": _message(
        mark("{branch}: bị từ chối — {reason}; hồ sơ tiếp tục với kết quả một phần"),
        mark("{branch}: không được giải quyết ({reason}); hồ sơ tiếp tục với kết quả một phần."),
    ),
    "branch_done": _message(mark("{branch}: hoàn thành")),
    "child_started": _message(
        mark("{step}: hồ sơ liên thông {child} tại {unit}"),
        mark("{step}: đã chuyển hồ sơ liên thông {child} đến {unit}."),
    ),
    "child_finished": _message(mark("{step}: hồ sơ liên thông {child} kết thúc: {outcome}")),
    "child_finished_because": _message(mark("{step}: hồ sơ liên thông {child} kết thúc: {outcome} — {reason}")),
    "early_warning": _message(
        mark("{step}: đã dùng {share}% thời gian giải quyết; hạn {due}"),
        mark("{step}: sắp đến hạn giải quyết ({due})."),
    ),
    "overdue": _message(mark("{step}: quá hạn giải quyết")),
    "leader_told": _message(mark("{step}: đã báo lãnh đạo {unit}"), mark("{step}: quá hạn, đã báo lãnh đạo đơn vị.")),
    "reassigned": _message(
        mark("{step}: giao lại cho cán bộ {role} khác của {unit}"), mark("{step}: quá hạn, đã giao cán bộ khác xử lý.")
    ),
    "appointment_missed": _message(
        mark("Đã quá ngày hẹn trả kết quả {date}"), mark("Hồ sơ đã quá ngày hẹn trả kết quả {date}.")
    ),
    "appointment_missed_without_apology": _message(
        mark("Đã quá ngày hẹn trả kết quả {date} mà không có thư xin lỗi"),
        mark("Hồ sơ đã quá ngày hẹn trả kết quả {date}."),
    ),
    "apology_promise_missed": _message(
        mark("Đã quá ngày hẹn {date} ghi trong thư xin lỗi mà không có thư xin lỗi tiếp theo"),
        mark("Hồ sơ đã quá ngày hẹn {date} ghi trong thư xin lỗi."),
    ),
    "apology": _message(
        mark("Thư xin lỗi (mẫu 04): hẹn lại ngày trả kết quả {new} thay cho {previous} — {reason}"),
        mark(
            "Cơ quan giải quyết xin lỗi vì trễ hẹn; ngày hẹn trả kết quả mới là {new} (thay cho {previous}). Lý do: {reason}"
        ),
    ),
    "extension": _message(
        mark("Gia hạn thời gian giải quyết (trường hợp đặc biệt): ngày hẹn trả kết quả {previous} → {new} — {reason}"),
        mark(
            "Thời gian giải quyết được gia hạn; ngày hẹn trả kết quả mới là {new} (thay cho {previous}). Lý do: {reason}"
        ),
    ),
    "letter_issued": _message(
        mark("Đã ban hành {letter} (mẫu {form}), số {result_id}"),
        mark("Cơ quan giải quyết đã gửi bạn {letter} (số {result_id})."),
    ),
    "apology_promise_missed_once": _message(
        mark("Đã quá ngày hẹn {date} ghi trong thư xin lỗi; hồ sơ trễ hẹn không còn được xin lỗi"),
        mark("Hồ sơ đã quá ngày hẹn {date} ghi trong thư xin lỗi."),
    ),
    "message_refused": _message(
        mark("Không áp dụng {via} {message}: {reason}"), mark("Một yêu cầu gửi đến hồ sơ không được áp dụng.")
    ),
    "message_refused_naming": _message(
        mark("Không áp dụng {via} {message} nhân danh cán bộ {officer}: {reason}"),
        mark("Một yêu cầu gửi đến hồ sơ không được áp dụng."),
    ),
}


def said(key: str, **params: Any) -> dict[str, Any]:
    """The `message` and `params` of a DossierEvent; a key not in MESSAGES is a programming error."""
    if key not in MESSAGES:
        raise KeyError(f"no timeline message {key!r}")
    return {"message": key, "params": params}
