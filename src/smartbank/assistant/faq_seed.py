"""The starting knowledge base: common questions of a retail bank's customers, in Chinese and English.

An answer never types a rate, a product list or a limit: it names a placeholder (``{{deposit_rates}}``,
``{{loan_rates}}``, ``{{lpr}}``, ``{{penalty_markup}}``, ``{{settlement}}``, ``{{daily_limit}}``,
``{{lock_failures}}``...) that :mod:`smartbank.assistant.faq_facts` fills from the catalogue and the settings when
the customer asks. Answers describe only what the bank really offers: a password is reset online with a code
sent by text message, time deposits cannot be withdrawn early, current accounts pay no interest.

:func:`seed` adds the entries that are not there yet (matched on the English question), so it can be run again;
an entry whose answers are still exactly an earlier seed's wording (which quoted figures or features that were
wrong) gets the current answers, an entry an agent has edited is left alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartbank.assistant import faq
from smartbank.assistant.models import FaqEntry
from smartbank.security.service import Principal

__all__ = ["ENTRIES", "seed"]


def _e(category: str, qzh: str, qen: str, variants: list[str], azh: str, aen: str) -> dict[str, Any]:
    return {"category": category, "question_zh": qzh, "question_en": qen, "variants": variants, "answer_zh": azh,
            "answer_en": aen}


ENTRIES: list[dict[str, Any]] = [
    _e("general", "客服热线的服务时间是什么？", "What are the customer service hotline hours?",
       ["客服电话几点上班", "人工客服什么时候有人", "热线电话多少", "When can I call customer service?",
        "phone support opening hours"],
       "客服热线 95588-0 全年 7×24 小时提供自助服务，人工服务时间为每天 8:00–22:00。",
       "The hotline 95588-0 offers self-service 24/7; agents answer every day from 8:00 to 22:00."),
    _e("transfer", "转账的每日限额是多少？", "What is the daily transfer limit?",
       ["一天最多能转多少钱", "转账额度是多少", "单日转账上限", "How much can I transfer per day?",
        "maximum transfer amount a day"],
       "默认每日对外转账、缴费和充值合计限额为{{daily_limit}}；本人账户之间互转不占用额度。如需调整请到柜台办理。",
       "By default transfers to others, bill payments and top-ups are limited to {{daily_limit}} a day in total; "
       "transfers between your own accounts do not count. Visit a branch to change the limit."),
    _e("transfer", "跨行转账多久到账？", "How long does a transfer to another bank take?",
       ["跨行汇款什么时候到", "转到别的银行要多久", "他行转账到账时间", "When will my interbank transfer arrive?",
        "transfer to other bank arrival time"],
       "跨行转账通过人民银行支付系统实时处理，通常几秒到几分钟到账；节假日大额转账可能在下一个工作日到账。",
       "Transfers to other banks go through the central bank's payment system and usually arrive within seconds "
       "to minutes; large transfers on public holidays may arrive on the next business day."),
    _e("fees", "转账收手续费吗？", "Are there fees for transfers?",
       ["转账要手续费吗", "跨行转账收费吗", "网银转账免费吗", "Do you charge for bank transfers?",
        "transfer fee"],
       "通过手机银行和网上银行办理的本行及跨行人民币转账均免收手续费。",
       "Transfers in CNY within the bank and to other banks made in online or mobile banking are free of charge."),
    _e("fees", "账户管理费和小额账户管理费怎么收？", "Do you charge an account maintenance fee?",
       ["账户年费", "小额账户管理费", "卡年费多少钱", "Is there an annual fee for my account?",
        "account management fee"],
       "本行个人结算账户不收取账户管理费、小额账户管理费和借记卡年费。",
       "We charge no account maintenance fee, small-balance fee or annual debit-card fee on personal accounts."),
    _e("security", "忘记登录密码怎么办？", "I forgot my password. How do I reset it?",
       ["密码忘了", "怎么重置密码", "登录密码找回", "reset my login password", "can't remember my password"],
       "在登录页点击“忘记密码？”，输入用户名，我们会向您预留的手机号发送短信验证码；输入验证码并设置新密码后，"
       "您在所有设备上的登录都会退出，请用新密码重新登录。已登录时可在“安全设置”中修改密码。"
       "没有预留手机号或手机号已停用，请携带本人有效身份证件到网点，或拨打客服热线 95588-0（人工服务每天 8:00–22:00）。"
       "请勿向任何人透露密码或验证码。",
       "Choose 'Forgot your password?' on the sign-in page and enter your user name: we send a text-message code "
       "to the phone number you registered. Enter the code and a new password; you are then signed out on every "
       "device, so sign in again with the new password. When signed in you can change it under Security settings. "
       "Without a registered phone that still works, bring your ID card to a branch or call the hotline 95588-0 "
       "(agents every day 8:00-22:00). Never tell anyone your password or codes."),
    _e("security", "账户被锁定了怎么办？", "My account is locked after wrong passwords. What can I do?",
       ["密码输错被锁", "登录被锁定", "多次输错密码", "account locked", "too many failed sign-in attempts"],
       "连续输错密码 {{lock_failures}} 次后，登录将被锁定 {{lock_minutes}} 分钟，到时自动解锁，请稍后再试。"
       "如果忘记了密码，可在登录页点击“忘记密码？”，用预留手机号收到的短信验证码重置。",
       "After {{lock_failures}} wrong passwords in a row sign-in is locked for {{lock_minutes}} minutes and then "
       "unlocks by itself; please try again later. If you have forgotten the password, choose 'Forgot your "
       "password?' on the sign-in page and reset it with the text-message code sent to your registered phone."),
    _e("card", "银行卡丢了怎么办？", "I lost my bank card. What should I do?",
       ["卡丢了", "银行卡被偷了", "怎么挂失", "report a lost card", "my debit card was stolen"],
       "请立即通过手机银行“卡片挂失”或拨打客服热线办理口头挂失，账户将被冻结止付；之后携带身份证到网点补办新卡。",
       "Report it at once in mobile banking ('Report lost card') or by calling the hotline; the account is "
       "frozen for payments. Then bring your ID card to a branch for a replacement card."),
    _e("card", "补办银行卡需要多久？", "How long does it take to replace a card?",
       ["换卡要多长时间", "补卡多久能拿到", "新卡什么时候能用", "card replacement time",
        "when will I get my new card"],
       "在网点补办借记卡一般当场即可领取；补卡不收取工本费。",
       "A replacement debit card is usually issued on the spot at a branch, free of charge."),
    _e("account", "怎么更换预留手机号？", "How do I change my registered phone number?",
       ["换手机号", "手机号码变更", "预留手机号码怎么改", "update my mobile number", "change phone number"],
       "原手机号仍可使用时，可在手机银行“安全中心”验证原号码后更换；原号码已停用请携带身份证到网点办理。",
       "If you still have the old number, change it in mobile banking under Security after confirming a code "
       "sent to it; otherwise bring your ID card to a branch."),
    _e("account", "怎么开立账户？", "How do I open an account?",
       ["开户需要什么", "办一张银行卡", "开户要带什么材料", "open a new account", "what do I need to open an account"],
       "年满 16 周岁的个人携带本人有效身份证件到任意网点即可开立账户；已是本行客户可在手机银行在线开立二类账户。",
       "Anyone aged 16 or over can open an account at any branch with a valid ID; existing customers can open a "
       "Class II account online in mobile banking."),
    _e("account", "账户被冻结了怎么办？", "My account is frozen. Why and what can I do?",
       ["为什么账户被冻结", "账户冻结怎么解", "卡被冻结了", "account frozen", "unfreeze my account"],
       "账户可能因挂失、风险控制或司法要求被冻结。冻结期间仍可收款但无法付款。请携带身份证到网点或联系客服了解原因。",
       "An account may be frozen after a loss report, a risk check or a court order. It can still receive money "
       "but not pay out. Contact customer service or a branch with your ID to find out why."),
    _e("deposit", "定期存款利率是多少？", "What are your time deposit rates?",
       ["存款利息多少", "定期利率", "存一年利息多少", "fixed deposit interest rate", "savings rates"],
       "当前整存整取定期存款年利率：{{deposit_rates}}。可在“理财”页面购买定期存款；活期结算账户不计利息。",
       "Our time deposits currently pay, a year: {{deposit_rates}}. You can open one on the Wealth page; current "
       "accounts pay no interest."),
    _e("deposit", "活期存款利息怎么算？", "How is interest on my current account calculated?",
       ["活期利息怎么计算", "结息时间", "利息什么时候到账", "when is interest paid", "demand deposit interest"],
       "活期结算账户不计利息。储蓄账户按开户时约定的年利率按日计息（实际天数/365），每月末结息计入账户；"
       "定期存款的利率见“定期存款利率是多少”。",
       "Current accounts pay no interest. Savings accounts accrue interest daily at the rate agreed when they were "
       "opened (actual days / 365) and it is paid into the account at month end; for time deposits see our time "
       "deposit rates."),
    _e("deposit", "定期存款可以提前支取吗？", "Can I withdraw a time deposit early?",
       ["定期提前取出", "存款没到期能取吗", "提前支取利息", "break a fixed deposit",
        "early withdrawal of a time deposit"],
       "不可以。本行定期存款不能提前支取，到期后本金和利息自动转回原账户。需要随时支取的资金可以选择活期或现金管理类产品。",
       "No. Our time deposits cannot be withdrawn before they mature; at maturity principal and interest go back "
       "to your account automatically. For money you may need at any time, keep it in your current account or a "
       "cash-management product."),
    _e("loan", "贷款利率怎么定的？LPR 是什么？", "How are loan rates set? What is the LPR?",
       ["贷款利息多少", "LPR是多少", "房贷利率", "loan interest rate", "what is the loan prime rate"],
       "贷款利率 = 贷款市场报价利率（LPR）+ 按信用等级确定的加点。消费贷、经营贷、车贷参照一年期 LPR，"
       "房贷参照五年期以上 LPR。当前执行的 LPR：{{lpr}}。各产品年利率范围：{{loan_rates}}。"
       "LPR 由全国银行间同业拆借中心每月 20 日公布。",
       "A loan's rate is the Loan Prime Rate (LPR) plus a spread set by your credit grade: consumer, business and "
       "car loans use the 1-year LPR, mortgages the 5-year LPR. The LPR in force: {{lpr}}. Rates by product: "
       "{{loan_rates}}. The LPR is published on the 20th of each month."),
    _e("loan", "等额本息和等额本金有什么区别？",
       "What is the difference between equal instalments and equal principal?",
       ["等额本息还是等额本金", "哪种还款方式划算", "还款方式有哪些", "repayment methods",
        "which repayment method should I choose"],
       "等额本息：每月还款额相同，前期利息占比高；等额本金：每月归还相同本金，利息逐月减少，首月还款最高、总利息更少。"
       "所有贷款产品都可以选择这两种方式。",
       "Equal instalments: the same payment every month, with more interest early on. Equal principal: the same "
       "principal each month, so payments fall over time; the first is the highest and total interest is lower. "
       "Every loan product offers both."),
    _e("loan", "可以提前还款吗？", "Can I repay my loan early?",
       ["提前还贷", "提前还款有违约金吗", "一次性还清贷款", "pay off my loan early", "early repayment fee"],
       "可以在手机银行“我的贷款”中提前部分还款或全部结清，不收取违约金。部分提前还款后可选择减少月供或缩短期限。",
       "Yes, in mobile banking under My loans you can repay part or all of it, with no early repayment fee. After "
       "a partial repayment choose a lower monthly payment or a shorter term."),
    _e("loan", "贷款逾期会怎样？罚息怎么算？",
       "What happens if a loan payment is overdue? How is penalty interest charged?",
       ["逾期罚息", "晚还款会怎样", "贷款逾期影响征信吗", "late loan payment penalty", "overdue interest"],
       "逾期本金和利息从到期日次日起按日计收罚息，罚息利率为合同利率上浮 {{penalty_markup}}；"
       "逾期记录会报送征信系统，请尽快还款。",
       "From the day after the due date, penalty interest accrues daily on the overdue principal and interest at "
       "the loan rate plus {{penalty_markup}}. Overdue payments are reported to the credit bureau, so please repay "
       "quickly."),
    _e("loan", "每月还款日会自动扣款吗？", "Is my loan repayment debited automatically?",
       ["贷款怎么还", "月供自动扣吗", "还款账户余额不足", "how do I repay my loan", "automatic loan repayment"],
       "会。还款日当天从您的还款账户自动扣收当期应还款，请在还款日前存入足够资金；余额不足部分将逾期。",
       "Yes. On the due date the instalment is debited from your repayment account; keep enough money in it the "
       "day before. Anything not covered becomes overdue."),
    _e("loan", "申请贷款需要什么条件？", "What do I need to apply for a loan?",
       ["怎么申请贷款", "贷款条件", "我能贷多少钱", "loan application requirements", "how much can I borrow"],
       "年满 18 周岁、有稳定收入和良好信用的客户可在手机银行“申请贷款”在线申请；额度由收入、负债比和信用评估决定。",
       "Customers aged 18 or over with a steady income and good credit can apply online under 'Apply for a loan'; "
       "the amount depends on income, debt-to-income ratio and the credit assessment."),
    _e("loan", "贷款审批要多久？", "How long does loan approval take?",
       ["贷款多久能批下来", "贷款审核进度", "申请贷款什么时候放款", "loan approval time",
        "status of my loan application"],
       "大部分申请提交后立即得到自动审批结果；转人工审核的一般在 1–3 个工作日内完成，进度可在“我的贷款申请”中查看。",
       "Most applications get an automatic decision at once; those sent to an officer usually take 1-3 business "
       "days. Follow the progress under My loan applications."),
    _e("wealth", "风险测评的有效期是多久？", "How long is my risk assessment valid?",
       ["风险评估过期", "风险测评多久做一次", "测评过期了怎么办", "risk questionnaire expiry",
        "do I need to redo the risk assessment"],
       "风险承受能力测评结果有效期为 365 天，过期后除定期存款外不能购买理财产品，请在手机银行重新测评。",
       "A risk assessment is valid for 365 days. After it lapses you cannot buy wealth products other than time "
       "deposits until you take it again in mobile banking."),
    _e("wealth", "理财产品什么时候确认份额？", "When are wealth product purchases confirmed?",
       ["理财多久到账", "基金什么时候确认", "申购确认时间", "when do I get my fund units", "T+1 settlement"],
       "申购按交易日净值确认份额，赎回款按同样的天数到账。各产品的确认时间：{{settlement}}"
       "（T+N 指交易日后第 N 个工作日）。",
       "Purchases are confirmed at the trade date's NAV and redemptions are paid after the same number of business "
       "days. By product: {{settlement}} (T+N is N business days after the trade date)."),
    _e("wealth", "为什么我不能购买这个理财产品？", "Why can't I buy this wealth product?",
       ["理财产品买不了", "风险等级不匹配", "购买被拒绝", "product not suitable for me", "purchase refused risk level"],
       "产品风险等级高于您的风险测评等级，或测评已过期时，系统会拒绝购买。请查看产品风险等级或重新测评。",
       "Purchases are refused when the product's risk level is above your assessed grade or your assessment has "
       "lapsed. Check the product's risk level or retake the assessment."),
    _e("wealth", "理财可以撤单吗？", "Can I cancel a wealth product order?",
       ["理财撤单", "申购能取消吗", "买错了怎么撤回", "cancel a fund purchase", "withdraw my order"],
       "在份额确认（T+1）之前，可在“我的理财-待确认订单”中撤单，资金原路退回。",
       "Before the order is confirmed (T+1) you can cancel it under My wealth - pending orders; the money goes back "
       "to your account."),
    _e("security", "收到可疑短信或电话怎么办？", "I received a suspicious call or message. What should I do?",
       ["有人冒充银行打电话", "诈骗短信", "让我转账到安全账户", "phishing message",
        "scam call pretending to be the bank"],
       "本行不会要求您提供密码或验证码，也不存在“安全账户”。请勿转账，立即挂断并拨打官方客服热线核实。",
       "We never ask for your password or one-time codes and there is no 'safe account'. Do not transfer money; "
       "hang up and call our official hotline."),
    _e("security", "转账被拦截或需要验证码是怎么回事？", "Why was my transfer held or asked for a verification code?",
       ["转账被拦截", "转账需要验证", "付款被冻结", "payment blocked", "transfer on hold for review"],
       "为保护资金安全，系统会对异常转账进行风险核验：可能需要输入短信验证码，或暂缓处理并由风控人员人工审核。",
       "To protect your money, unusual payments are checked: you may be asked for a text-message code, or the "
       "payment is held while a risk officer reviews it."),
    _e("transfer", "转错账了能撤回吗？", "I sent money to the wrong account. Can it be reversed?",
       ["转账转错了", "转错人了怎么办", "汇款撤回", "recall a transfer", "wrong recipient"],
       "已成功的转账无法由本行直接撤回。请尽快联系收款人协商退回，或携带凭证联系客服协助处理；如涉嫌诈骗请立即报警。",
       "A completed transfer cannot be reversed by the bank on its own. Contact the recipient to return it, or "
       "contact customer service with the details; if it is fraud, call the police."),
    _e("general", "如何查询账户余额和交易明细？", "How do I check my balance and transactions?",
       ["查余额", "查看流水", "打印对账单", "view account statement", "transaction history"],
       "登录手机银行或网上银行，在“账户”页面可查看余额和交易明细，并可下载电子对账单。",
       "Sign in to online or mobile banking; the Accounts page shows balances and transactions, and you can "
       "download statements."),
    _e("general", "网点营业时间是什么？", "What are your branch opening hours?",
       ["银行几点开门", "周末营业吗", "网点上班时间", "branch hours", "is the bank open on Saturday"],
       "网点工作日 9:00–17:00 营业，部分网点周末 9:00–16:00 营业，具体以网点公告为准。",
       "Branches are open 9:00-17:00 on weekdays and some also 9:00-16:00 at weekends; see the branch notice."),
]

# Earlier seed answers that quoted figures or features that were wrong; :func:`seed` replaces an entry's
# answers while they still read exactly so.
_SUPERSEDED: dict[str, tuple[str, str]] = {  # the first earlier wording; later ones in _SUPERSEDED_ALSO
    "What is the daily transfer limit?": (
        "默认每日对外转账、缴费和充值合计限额为人民币 50,000 元；本人账户之间互转不占用额度。如需调整请到柜台"
        "办理。",
        "By default transfers to others, bill payments and top-ups are limited to CNY 50,000 a day in total; "
        "transfers between your own accounts do not count. Visit a branch to change the limit."),
    "I forgot my password. How do I reset it?": (
        "在登录页点击“忘记密码”，验证身份证号和预留手机号的短信验证码后即可设置新密码；也可携带身份证到柜台"
        "重置。",
        "Choose 'Forgot password' on the sign-in page, confirm your ID number and the text-message code sent "
        "to your registered phone, then set a new password. A branch can also reset it with your ID card."),
    "My account is locked after wrong passwords. What can I do?": (
        "连续多次输错密码后登录会被暂时锁定，请稍后再试或通过“忘记密码”重置；如仍无法登录请联系客服。",
        "After repeated wrong passwords sign-in is locked for a while. Try again later or reset the "
        "password; if it is still locked, contact customer service."),
    "What are your time deposit rates?": (
        "当前挂牌利率：活期 0.10%，三个月 0.80%，六个月 1.05%，一年 1.25%，两年 1.35%，三年 1.65%（年化）。以"
        "网点公告为准。",
        "Current board rates: demand 0.10%, 3 months 0.80%, 6 months 1.05%, 1 year 1.25%, 2 years 1.35%, 3 "
        "years 1.65% a year. The branch notice prevails."),
    "How is interest on my current account calculated?": (
        "活期存款按日计息（实际天数/365），每月末结息计入账户。",
        "Interest on demand deposits accrues daily (actual days / 365) and is paid into the account at month "
        "end."),
    "Can I withdraw a time deposit early?": (
        "可以。提前支取部分按支取日活期利率计息，未支取部分仍按原定期利率计息。",
        "Yes. The amount taken out early earns the demand rate of the day; the rest keeps its original rate."),
    "How are loan rates set? What is the LPR?": (
        "贷款利率 = 贷款市场报价利率（LPR）+ 按信用等级确定的加点。消费贷、经营贷、车贷参照一年期 LPR，房贷参"
        "照五年期以上 LPR。最新 LPR 以全国银行间同业拆借中心每月 20 日公布为准。",
        "A loan's rate is the Loan Prime Rate (LPR) plus a spread set by your credit grade: consumer, "
        "business and car loans use the 1-year LPR, mortgages the 5-year LPR. The LPR is published on the "
        "20th of each month."),
    "What happens if a loan payment is overdue? How is penalty interest charged?": (
        "逾期本金和利息从到期日次日起按日计收罚息，罚息利率为合同利率上浮 50%；逾期记录会报送征信系统，请尽快"
        "还款。",
        "From the day after the due date, penalty interest accrues daily on the overdue principal and "
        "interest at the loan rate plus 50%. Overdue payments are reported to the credit bureau, so please "
        "repay quickly."),
    "When are wealth product purchases confirmed?": (
        "理财和基金申购按交易日净值在 T+1 个工作日确认份额，赎回款同样在 T+1 个工作日到账；定期存款当日（T+0"
        "）生效。",
        "Fund and wealth purchases are confirmed at the trade date's NAV on T+1 business days and "
        "redemptions are paid on T+1 as well; time deposits take effect the same day (T+0)."),
}


# the answers of the time before the online password reset (they sent everyone to a branch)
_SUPERSEDED_ALSO: dict[str, tuple[str, str]] = {
    "I forgot my password. How do I reset it?": (
        "目前网上银行和手机银行都不能自助找回、重置或修改登录密码，登录页也没有“忘记密码”入口。"
        "请携带本人有效身份证件到网点，或拨打客服热线 95588-0（人工服务每天 8:00–22:00），"
        "工作人员核实身份后协助您处理。请勿向任何人透露密码或验证码。",
        "Online and mobile banking cannot recover, reset or change a sign-in password yet, and the sign-in page has "
        "no 'Forgot password' link. Bring your ID card to a branch, or call the hotline 95588-0 (agents every day "
        "8:00-22:00); staff will check your identity and help you. Never tell anyone your password or codes."),
    "My account is locked after wrong passwords. What can I do?": (
        "连续输错密码 {{lock_failures}} 次后，登录将被锁定 {{lock_minutes}} 分钟，到时自动解锁，请稍后再试。"
        "如果忘记了密码，目前不能在线重置，请携带身份证件到网点或拨打客服热线。",
        "After {{lock_failures}} wrong passwords in a row sign-in is locked for {{lock_minutes}} minutes and then "
        "unlocks by itself; please try again later. If you have forgotten the password, it cannot be reset online "
        "yet: visit a branch with your ID card or call the hotline."),
}


def seed(session: Session, actor: Principal) -> dict[str, int]:
    """Add the entries not yet present (by English question) and bring unedited earlier answers up to date;
    returns ``{"created", "existing", "updated"}``."""
    have = {e.question_en: e for e in session.scalars(select(FaqEntry))}
    created = updated = 0
    for entry in ENTRIES:
        old = have.get(entry["question_en"])
        if old is None:
            faq.create_entry(session, actor, **entry)
            created += 1
        elif (old.answer_zh, old.answer_en) in (_SUPERSEDED.get(entry["question_en"]),
                                                _SUPERSEDED_ALSO.get(entry["question_en"])):
            faq.update_entry(session, actor, old.id, answer_zh=entry["answer_zh"], answer_en=entry["answer_en"])
            updated += 1
    return {"created": created, "existing": len(ENTRIES) - created, "updated": updated}
