"""Interface text in each language.  Pass the language explicitly; no globals."""
from __future__ import annotations

import datetime as dt

STRINGS: dict[str, dict[str, str]] = {
    "home": {"zh": "首页", "en": "Home"},
    "colon": {"zh": "：", "en": ": "},
    "sep": {"zh": "、", "en": ", "},
    "skip": {"zh": "跳到正文", "en": "Skip to content"},
    "main_nav": {"zh": "主导航", "en": "Main navigation"},
    "language": {"zh": "语言", "en": "Language"},
    "issues": {"zh": "公报期刊", "en": "Gazette issues"},
    "topics": {"zh": "主题", "en": "Topics"},
    "tags": {"zh": "标签", "en": "Tags"},
    "issuers": {"zh": "发文机关", "en": "Issuing bodies"},
    "years": {"zh": "年份", "en": "Years"},
    "types": {"zh": "文件类型", "en": "Document types"},
    "latest": {"zh": "最新发布", "en": "Latest publications"},
    "latest_issue": {"zh": "最新一期", "en": "Latest issue"},
    "all_issues": {"zh": "全部期刊", "en": "All issues"},
    "topic_collections": {"zh": "主题集成", "en": "Topic collections"},
    "records_count": {"zh": "{n} 件", "en": ("{n} document", "{n} documents")},
    "issue_title": {"zh": "{year}年第{number}期", "en": "{year}, No. {number}"},
    "contents": {"zh": "目录", "en": "Contents"},
    "chinese_only": {"zh": "仅有中文版", "en": "available in Chinese only"},
    "chinese_only_page": {"zh": "本文件暂无英文版", "en": "This document is available in Chinese only."},
    "read_chinese": {"zh": "阅读中文版", "en": "Read the Chinese original"},
    "no_records": {"zh": "暂无文件。", "en": "No documents yet."},
    "page_n": {"zh": "第 {n} 页", "en": "Page {n}"},
    "pagination": {"zh": "分页", "en": "Pagination"},
    "previous": {"zh": "上一页", "en": "Previous"},
    "next": {"zh": "下一页", "en": "Next"},
    "not_found": {"zh": "页面不存在", "en": "Page not found"},
    "not_found_text": {"zh": "您访问的页面不存在或已移动。", "en": "The page you asked for does not exist or has moved."},
    "publisher": {"zh": "主办", "en": "Publisher"},
    "metadata": {"zh": "文件信息", "en": "Document information"},
    "index_number": {"zh": "索引号", "en": "Index number"},
    "issuer": {"zh": "发文机关", "en": "Issued by"},
    "doc_number": {"zh": "发文字号", "en": "Document number"},
    "written": {"zh": "成文日期", "en": "Date written"},
    "published": {"zh": "发布日期", "en": "Date published"},
    "effective": {"zh": "生效日期", "en": "Effective from"},
    "expires": {"zh": "失效日期", "en": "Expires"},
    "validity": {"zh": "有效性", "en": "Validity"},
    "in_issue": {"zh": "刊登期次", "en": "Published in"},
    "type": {"zh": "类型", "en": "Type"},
    "source_url": {"zh": "原文链接", "en": "Original source"},
    "form": {"zh": "解读形式", "en": "Form"},
    "services": {"zh": "阅办联动", "en": "Online services"},
    "do_it": {"zh": "去办理", "en": "Apply online"},
    "basis": {"zh": "政策依据", "en": "Legal and policy basis"},
    "basis_of": {"zh": "依据本文件制定的文件", "en": "Documents based on this one"},
    "related": {"zh": "配套文件", "en": "Related documents"},
    "supersedes": {"zh": "本文件修订或废止", "en": "This document amends or replaces"},
    "superseded_by": {"zh": "被以下文件修订或废止", "en": "Amended or replaced by"},
    "interpretations": {"zh": "政策解读", "en": "Interpretations"},
    "faqs": {"zh": "常见问题与解答", "en": "Frequently asked questions"},
    "interprets": {"zh": "解读的文件", "en": "Interprets"},
    "faq_of": {"zh": "相关政策文件", "en": "Policy document"},
    "attachments": {"zh": "附件", "en": "Attachments"},
    "entries_appointments": {"zh": "任免名单", "en": "Appointments and removals"},
    "action": {"zh": "任免", "en": "Action"},
    "name": {"zh": "姓名", "en": "Name"},
    "position": {"zh": "职务", "en": "Position"},
    "organization": {"zh": "单位", "en": "Organisation"},
    "appoint": {"zh": "任命", "en": "Appointed"},
    "remove": {"zh": "免去", "en": "Removed"},
    "honorees": {"zh": "表彰对象", "en": "Honourees"},
    "honour": {"zh": "荣誉", "en": "Honour"},
    "kind_person": {"zh": "个人", "en": "Person"},
    "kind_organization": {"zh": "集体", "en": "Organisation"},
    "kind_other": {"zh": "其他", "en": "Other"},
    "consultation": {"zh": "征询意见", "en": "Public consultation"},
    "consultation_open": {"zh": "正在征询意见", "en": "Open for comments"},
    "consultation_closed": {"zh": "征询已结束", "en": "Consultation closed"},
    "consultation_upcoming": {"zh": "尚未开始征询", "en": "Consultation not yet open"},
    "consultation_period": {"zh": "征询期：{opens} 至 {closes}", "en": "Consultation period: {opens} to {closes}"},
    "days_left": {"zh": "剩余 {n} 天", "en": ("{n} day left", "{n} days left")},
    "last_day": {"zh": "今天是最后一天", "en": "Today is the last day"},
    "feedback": {"zh": "意见反馈渠道", "en": "How to comment"},
    "feedback_email": {"zh": "电子邮件", "en": "Email"},
    "feedback_url": {"zh": "网上反馈", "en": "Online"},
    "feedback_address": {"zh": "通信地址", "en": "Post"},
    "outcome": {"zh": "意见采纳情况", "en": "Outcome of the consultation"},
    "banner_amended": {"zh": "本文件已被修订，请注意查看修订后的文件。", "en": "This document has been amended; see the amending document."},
    "banner_repealed": {"zh": "本文件已废止。", "en": "This document has been repealed."},
    "banner_expired": {"zh": "本文件已失效。", "en": "This document has expired."},
    "banner_not_yet": {"zh": "本文件尚未生效。", "en": "This document is not yet in force."},
    "banner_superseded": {"zh": "本文件已被修订或替代：", "en": "This document has been amended or replaced by:"},
    "other_language": {"zh": "中文", "en": "English"},
    "edition_of": {"zh": "中文原文", "en": "English edition"},
    "all_types": {"zh": "全部类型", "en": "All types"},
    "records_in_issue": {"zh": "本期文件", "en": "Documents in this issue"},
    "issue_date": {"zh": "出版日期", "en": "Date of issue"},
    "year_n": {"zh": "{year}年", "en": "{year}"},
    "footer_note": {"zh": "本网站为政府公报电子版。", "en": "This site is the electronic edition of the government gazette."},
    "english_section": {"zh": "英文版", "en": "English section"},
    "breadcrumb": {"zh": "位置", "en": "Breadcrumb"},
    "record_types": {"zh": "文件类型", "en": "Document types"},
    "description": {"zh": "简介", "en": "About"},
    "by_type": {"zh": "按类型", "en": "By type"},
    "pdf_page_before": {"zh": "第 ", "en": "Page "},
    "pdf_page_middle": {"zh": " 页 / 共 ", "en": " of "},
    "pdf_page_after": {"zh": " 页", "en": ""},
    "version_n": {"zh": "第{n}版", "en": "version {n}"},
    "erratum": {"zh": "更正说明", "en": "Erratum"},
    "withdrawal_notice": {"zh": "撤回通知：本期原载文件一件已于{date}撤回，不再公开。撤回原因：{reason}",
                          "en": "Notice of withdrawal: a document first published in this issue was withdrawn on {date} "
                                "and is no longer public. Reason: {reason}"},
    "withdrawn_version": {"zh": "此版本载有已撤回的文件，已由最新版本替换。", "en": "This version contained a withdrawn document and has been replaced by the current version."},
    "download_pdf": {"zh": "下载PDF", "en": "Download PDF"},
    "versions": {"zh": "版本", "en": "Versions"},
    "released_on": {"zh": "发布于 {date}", "en": "released {date}"},
    "current_version": {"zh": "当前版本", "en": "current version"},
    "pdf_of_issue_in": {"zh": "本期PDF（{language}）", "en": "PDF of this issue ({language})"},
    "in_force_policies": {"zh": "现行有效政策文件", "en": "Policies in force"},
    "only_in_force": {"zh": "只看现行有效", "en": "Only those in force"},
    "all_policies": {"zh": "全部政策文件（含已废止、失效）", "en": "All policies, including repealed and expired"},
    "closes_on": {"zh": "{date}截止", "en": "closes {date}"},
    "preview_failed": {"zh": "网站未能生成", "en": "The site did not build"},
    "preview_fix": {"zh": "请修正下列问题并保存；修正后本页会自动刷新。", "en": "Fix the problems below and save; this page reloads by itself when the site builds."},
    "preview_released": {"zh": "预览提示：已发布期刊中的文件被修改。正式生成（gazette build）会拒绝，须以更正版本发布：",
                         "en": "Preview only: a record of a released issue changed. gazette build refuses this; it must go out as a revision:"},
    "as_of": {"zh": "（截至{date}）", "en": " (as of {date})"},
    "paren_open": {"zh": "（", "en": " ("},
    "paren_close": {"zh": "）", "en": ")"},
    "history": {"zh": "修改记录", "en": "History"},
    "changes_in": {"zh": "{label}相对{prev}的修改", "en": "Changes in {label} since {prev}"},
    "subscribe": {"zh": "订阅", "en": "Subscribe"},
    "subscribe_intro": {"zh": "通过 RSS/Atom 阅读器或电子邮件订阅本公报的全部或部分内容。", "en": "Follow the whole gazette, or only what concerns you, by RSS/Atom or by email."},
    "feeds": {"zh": "RSS/Atom 订阅源", "en": "RSS and Atom feeds"},
    "opml": {"zh": "全部订阅源（OPML 文件）", "en": "All feeds (OPML file)"},
    "feed_all": {"zh": "全部文件", "en": "Everything"},
    "email_subscribe": {"zh": "邮件订阅", "en": "Email digests"},
    "email_intro": {"zh": "填写邮箱并选择关注的内容，我们会发送确认邮件，确认后按期发送摘要。", "en": "Enter your address and choose what to follow; we send a confirmation email first, then regular digests."},
    "email_address": {"zh": "电子邮箱", "en": "Email address"},
    "email_language": {"zh": "邮件语言", "en": "Language of the emails"},
    "email_submit": {"zh": "订阅", "en": "Subscribe"},
    "email_scopes": {"zh": "关注内容（不选则订阅全部）", "en": "What to follow (none selected: everything)"},
    "feed_of": {"zh": "订阅本页", "en": "Feed of this page"},
    "issue_subject": {"zh": "{title}：{label}已出版", "en": "{title}: {label} is out"},
    "digest_new_issues": {"zh": "新一期公报", "en": "New gazette issues"},
    "scope_issues": {"zh": "新一期公报出版时提醒我", "en": "Tell me when a new gazette issue is out"},
    "scope_match": {"zh": "以上各类选项", "en": "Of the options above"},
    "scope_match_any": {"zh": "符合任意一项即发送", "en": "send what matches any of them"},
    "scope_match_all": {"zh": "须同时符合所选各类（如：某机关的人事任免）", "en": "send only what matches each kind chosen (e.g. appointments by one issuer)"},
    "digest_subject": {"zh": "{title}：{n} 件新文件", "en": ("{title}: {n} new document", "{title}: {n} new documents")},
    "digest_intro": {"zh": "您订阅的公报内容有以下更新：", "en": "New in the gazette for your subscription:"},
    "digest_targeted": {"zh": "定向发送：本文件仅发送给相关对象，未在网站公开。", "en": "Sent to its audience only; not published on the website."},
    "digest_footer": {"zh": "您收到此邮件是因为订阅了本公报。", "en": "You receive this email because you subscribed to the gazette."},
    "unsubscribe": {"zh": "退订", "en": "Unsubscribe"},
    "manage": {"zh": "修改订阅设置", "en": "Change your preferences"},
    "confirm_subject": {"zh": "请确认订阅{title}", "en": "Please confirm your subscription to {title}"},
    "confirm_intro": {"zh": "我们收到了用此邮箱订阅公报的请求。请点击下面的链接确认（7 天内有效）；如果不是您本人操作，请忽略本邮件。", "en": "We received a request to subscribe this address to the gazette. Confirm it with the link below (valid for 7 days); if it was not you, ignore this email."},
    "confirm_action": {"zh": "确认订阅", "en": "Confirm subscription"},
    "search": {"zh": "搜索", "en": "Search"},
    "search_label": {"zh": "搜索公报文件", "en": "Search the gazette"},
    "search_short": {"zh": "搜索文件", "en": "Search documents"},
    "search_placeholder": {"zh": "输入关键词或发文字号", "en": "Words or a document number"},
    "docno_hit": {"zh": "发文字号匹配", "en": "Document number match"},
    "no_exact_match": {"zh": "没有完全匹配的结果；以下结果只包含其中部分词语。", "en": "No exact match; the results below contain some of the words."},
    "search_needs_js": {"zh": "搜索需要启用浏览器的 JavaScript。", "en": "Search needs JavaScript enabled in your browser."},
    "search_button": {"zh": "搜索", "en": "Search"},
    "search_sort": {"zh": "排序", "en": "Sort by"},
    "search_sort_relevance": {"zh": "相关度", "en": "Relevance"},
    "search_sort_newest": {"zh": "发布日期（新到旧）", "en": "Date published, newest first"},
    "search_sort_oldest": {"zh": "发布日期（旧到新）", "en": "Date published, oldest first"},
    "search_from": {"zh": "发布日期自", "en": "Published from"},
    "search_to": {"zh": "至", "en": "to"},
    "search_filters": {"zh": "筛选", "en": "Filters"},
    "search_load_more": {"zh": "加载更多结果", "en": "Load more results"},
    "search_zero": {"zh": "没有找到与“[SEARCH_TERM]”相关的结果", "en": "No results for [SEARCH_TERM]"},
    "search_many": {"zh": "找到 [COUNT] 个与“[SEARCH_TERM]”相关的结果", "en": "[COUNT] results for [SEARCH_TERM]"},
    "search_one": {"zh": "找到 1 个与“[SEARCH_TERM]”相关的结果", "en": "1 result for [SEARCH_TERM]"},
    "search_browse_zero": {"zh": "没有符合筛选条件的文件", "en": "No documents match the filters"},
    "search_browse_many": {"zh": "[COUNT] 个文件符合筛选条件", "en": "[COUNT] documents match the filters"},
    "search_searching": {"zh": "正在搜索“[SEARCH_TERM]”…", "en": "Searching for [SEARCH_TERM]…"},
    "search_failed": {"zh": "搜索暂时不可用，请稍后重试。", "en": "Search is not available right now; please try again later."},
    "year": {"zh": "年份", "en": "Year"},
    "service_subscribe": {"zh": "订阅", "en": "Subscribe"},
    "service_check_inbox": {"zh": "请查收确认邮件，点击其中的链接完成订阅。", "en": "Check your inbox: follow the link in the confirmation email to complete your subscription."},
    "service_confirmed": {"zh": "订阅已确认。今后有符合您订阅内容的新文件时，我们会发邮件告诉您。", "en": "Your subscription is confirmed. We will email you when there is something new for you."},
    "service_confirm_title": {"zh": "确认订阅", "en": "Confirm your subscription"},
    "service_nothing_means_all": {"zh": "以上各项都不勾选，即订阅全部文件。", "en": "Tick nothing above to receive every document."},
    "service_unsubscribe_link": {"zh": "退订全部公报邮件", "en": "Unsubscribe from all gazette emails"},
    "service_back": {"zh": "返回公报网站", "en": "Back to the gazette"},
    "service_wrong_origin": {"zh": "请从公报网站提交此表单。", "en": "This form must be sent from the gazette's own site."},
    "service_too_many": {"zh": "请求过于频繁，请一分钟后再试。", "en": "Too many requests; please try again in a minute."},
    "service_too_large": {"zh": "提交的内容过大。", "en": "The request is too large."},
    "service_not_found": {"zh": "页面不存在。", "en": "There is no such page."},
    "service_not_allowed": {"zh": "不支持此操作。", "en": "That is not allowed here."},
    "service_unsubscribe_q": {"zh": "确定退订该邮箱的全部公报邮件吗？", "en": "Stop all gazette emails to this address?"},
    "service_unsubscribed": {"zh": "已退订，您将不再收到公报邮件。", "en": "You are unsubscribed and will receive no more gazette emails."},
    "service_saved": {"zh": "设置已保存。", "en": "Your preferences are saved."},
    "service_bad_link": {"zh": "链接无效或已过期。", "en": "This link is invalid or has expired."},
    "service_bad_input": {"zh": "提交的内容有误：", "en": "Something in the form is not right:"},
    "service_preferences": {"zh": "订阅设置", "en": "Preferences"},
    "service_save": {"zh": "保存", "en": "Save"},
    "service_error": {"zh": "出错了", "en": "Something went wrong"},
    "translation_note": {"zh": "", "en": "English editions are provided for reference; the Chinese text is authoritative."},
}

TYPE_NAMES = {
    "policy": {"zh": "政策文件", "en": "Policy documents"},
    "interpretation": {"zh": "政策解读", "en": "Policy interpretations"},
    "faq": {"zh": "常见问题与解答", "en": "FAQ lists"},
    "appointment": {"zh": "人事任免", "en": "Appointments and removals"},
    "commendation": {"zh": "表彰褒扬", "en": "Commendations"},
    "consultation": {"zh": "公开征询意见", "en": "Public consultations"},
}
TYPE_SINGULAR = {
    "policy": {"zh": "政策文件", "en": "Policy document"},
    "interpretation": {"zh": "政策解读", "en": "Interpretation"},
    "faq": {"zh": "常见问题与解答", "en": "FAQ list"},
    "appointment": {"zh": "人事任免", "en": "Appointment notice"},
    "commendation": {"zh": "表彰褒扬", "en": "Commendation"},
    "consultation": {"zh": "公开征询意见", "en": "Public consultation"},
}
STATUS_NAMES = {
    "effective": {"zh": "现行有效", "en": "In force"},
    "amended": {"zh": "已修订", "en": "Amended"},
    "repealed": {"zh": "已废止", "en": "Repealed"},
    "expired": {"zh": "已失效", "en": "Expired"},
    "unknown": {"zh": "有效性待确认", "en": "Validity not stated"},
    "not-yet": {"zh": "尚未生效", "en": "Not yet in force"},
}
FORM_NAMES = {
    "text": {"zh": "文字解读", "en": "Text"},
    "graphic": {"zh": "图解", "en": "Graphic"},
    "video": {"zh": "视频解读", "en": "Video"},
    "qa": {"zh": "问答", "en": "Questions and answers"},
}
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]


def _pick(table: dict, key: str, lang: str) -> str:
    entry = table[key]
    return entry.get(lang) or entry["en"]


def t(key: str, lang: str, **kw) -> str:
    """The interface string `key` in `lang`.  A string given as a pair
    (singular, plural) is chosen by the count `n`."""
    text = _pick(STRINGS, key, lang)
    if isinstance(text, tuple):
        text = text[0] if kw.get("n") == 1 else text[1]
    return text.format(**kw) if kw else text


def type_name(rtype: str, lang: str, plural: bool = True) -> str:
    return _pick(TYPE_NAMES if plural else TYPE_SINGULAR, rtype, lang)


def status_name(status: str, lang: str) -> str:
    return _pick(STATUS_NAMES, status, lang)


def form_name(form: str, lang: str) -> str:
    return _pick(FORM_NAMES, form, lang)


def format_date(d: dt.date | None, lang: str) -> str:
    if d is None:
        return ""
    if lang.startswith("zh") or lang.startswith("ja"):
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {MONTHS_EN[d.month - 1]} {d.year}"


def language_name(lang: str, in_lang: str | None = None) -> str:
    """A language's name: in itself (a language switcher), or in `in_lang`."""
    names = {"zh": {"zh": "中文", "en": "Chinese"}, "en": {"zh": "英文", "en": "English"}}
    if in_lang is None:
        return {"zh": "中文", "en": "English"}.get(lang, lang)
    return names.get(lang, {}).get(in_lang, lang)
