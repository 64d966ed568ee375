/* Every text of the end-user pages, keyed, in English and Simplified Chinese
 * (ui_t). Renderers never hold a language's words themselves; a text with
 * "%s" gets one value the renderer escapes. Chinese uses "您", as the code
 * e-mails do. Never returns NULL and never allocates. Also the lookups of
 * the calling-code picker's country table (countries.c): by ISO code, by
 * calling code, and from a browser's Accept-Language. */
#include "ui/i18n.h"

#include "ui/countries.h"
#include "ui/pages.h"

#include <string.h>

struct i18n_entry {
    const char *key;
    const char *en;
    const char *zh;
};

static const struct i18n_entry i18n_table[] = {
    /* The shared document: header, language switch, footer. */
    {"layout.skip", "Skip to main content", "跳到主要内容"},
    {"layout.footer", "Protected by %s", "由 %s 提供安全保护"},
    {"lang.label", "Language", "语言"},
    {"lang.en", "English", "English"},
    {"lang.zh", "中文", "中文"},

    /* Factor types and badges. */
    {"factor.sms", "Text message", "短信"},
    {"factor.email", "Email", "电子邮件"},
    {"factor.totp", "Authenticator app", "身份验证器应用"},
    {"factor.webauthn", "Passkey or security key", "通行密钥或安全密钥"},
    {"factor.other", "Other method", "其他方式"},
    {"badge.preferred", "Preferred", "首选"},
    {"badge.last_used", "Last used", "最近使用"},
    {"badge.pending", "Not confirmed", "未确认"},

    /* Buttons and form fields used on several pages. */
    {"btn.send_code", "Send code", "发送验证码"},
    {"btn.resend", "Send again", "重新发送"},
    {"btn.resend_wait", "Send again in %s s", "%s 秒后可重新发送"},
    {"btn.verify", "Verify", "验证"},
    {"btn.confirm", "Confirm", "确认"},
    {"btn.cancel", "Cancel", "取消"},
    {"btn.back", "Back", "返回"},
    {"btn.remove", "Remove", "删除"},
    {"btn.make_preferred", "Make preferred", "设为首选"},
    {"btn.new_codes", "Make a new set", "生成新的恢复码"},
    {"btn.turn_off", "Turn off", "关闭"},
    {"btn.back_to_app", "Back to %s", "返回 %s"},
    {"btn.back_to_app_generic", "Back to the app", "返回应用"},
    {"btn.copy", "Copy", "复制"},
    {"btn.download", "Download .txt", "下载 .txt 文件"},
    {"btn.print", "Print", "打印"},
    {"btn.saved", "I have saved them", "我已保存"},
    {"btn.skip", "Skip for now", "暂时跳过"},
    {"btn.use_passkey", "Use your passkey", "使用通行密钥"},
    {"btn.create_passkey", "Create a passkey", "创建通行密钥"},
    {"btn.rename", "Rename", "重命名"},
    {"btn.save", "Save", "保存"},
    {"field.code", "Code", "验证码"},
    {"field.code_hint", "Enter the digits only.", "请只输入数字。"},
    {"field.recovery_code", "Recovery code", "恢复码"},
    {"field.country", "Country or region", "国家或地区"},
    {"field.country_search", "Search countries and regions", "搜索国家或地区"},
    {"field.country_search_hint", "Type a name or a calling code such as 44.",
     "输入名称或国家代码，例如 86。"},
    {"field.phone", "Phone number", "手机号码"},
    {"field.phone_hint", "Without the country code.", "无需输入国家或地区代码。"},
    {"field.email", "Email address", "电子邮箱地址"},
    {"code.sent_to", "Enter the code we sent to %s.", "请输入我们发送到 %s 的验证码。"},
    {"code.didnt_get",
     "Didn't get it? Check the number or address, wait a moment, then send "
     "the code again.",
     "没有收到？请检查号码或地址，稍等片刻后重新发送。"},

    /* The second step (/challenge). */
    {"title.challenge", "Verify it's you", "验证您的身份"},
    {"title.stepup", "Confirm it's you", "确认是您本人"},
    {"challenge.intro_app", "%s wants to make sure it's really you.",
     "%s 需要确认是您本人在操作。"},
    {"challenge.intro", "Confirm it's really you to continue.", "请先确认是您本人，然后继续。"},
    {"challenge.intro_stepup",
     "You are about to change your security settings. Confirm it's "
     "you first.",
     "您正要更改安全设置，请先确认是您本人。"},
    {"challenge.send_sms", "We will text a code to %s.", "我们将向 %s 发送短信验证码。"},
    {"challenge.send_email", "We will email a code to %s.", "我们将向 %s 发送验证码邮件。"},
    {"challenge.totp", "Open your authenticator app and enter the code it shows.",
     "请打开身份验证器应用，输入其中显示的验证码。"},
    {"challenge.recovery",
     "Enter one of the recovery codes you saved when you set up two-step "
     "verification. Each code works once.",
     "请输入您设置两步验证时保存的恢复码之一。每个恢复码只能使用一次。"},
    {"challenge.other", "Try another way", "换一种方式"},
    {"challenge.passkey", "Use the passkey on this device, on your phone or on your security key.",
     "请使用此设备、手机或安全密钥上的通行密钥。"},
    {"challenge.phr_app", "%s asks for a passkey for this sign-in.",
     "%s 要求本次登录使用通行密钥。"},
    {"challenge.phr", "This sign-in needs a passkey.", "本次登录需要使用通行密钥。"},
    {"challenge.use_recovery", "Use a recovery code", "使用恢复码"},
    {"challenge.remember", "Don't ask again on this device for %s days",
     "在此设备上 %s 天内不再询问"},
    {"challenge.remember_one", "Don't ask again on this device for %s day",
     "在此设备上 %s 天内不再询问"},
    {"challenge.locked",
     "Your account is locked after too many wrong codes. Enter one of your recovery codes "
     "to unlock it.",
     "由于错误次数过多，您的账户已被锁定。请输入一个恢复码来解锁。"},
    {"challenge.locked_admin",
     "No recovery code? Contact your administrator to unlock your "
     "account.",
     "没有恢复码？请联系管理员解锁您的账户。"},
    {"challenge.locked_contact", "No recovery code? Contact %s to unlock your account.",
     "没有恢复码？请联系 %s 解锁您的账户。"},
    {"challenge.none_left",
     "None of your methods can be used right now. Use a recovery code "
     "instead.",
     "您目前无法使用任何验证方式，请改用恢复码。"},
    {"challenge.none_left_admin",
     "None of your methods can be used right now. Ask your "
     "administrator for help.",
     "您目前无法使用任何验证方式，请联系管理员。"},

    /* The account page (/account). */
    {"title.account", "Two-step verification", "两步验证"},
    {"account.intro", "When you sign in, you confirm it's you with one of these methods.",
     "登录时，您需要用以下方式之一确认是您本人。"},
    {"account.methods", "Your methods", "您的验证方式"},
    {"account.none", "You have not added a method yet.", "您还没有添加任何验证方式。"},
    {"account.last_used_at", "Last used %s", "上次使用：%s"},
    {"account.never_used", "Not used yet", "尚未使用"},
    {"account.added_at", "Added %s", "添加于 %s"},
    {"account.add", "Add a method", "添加验证方式"},
    {"account.recovery", "Recovery codes", "恢复码"},
    {"account.recovery_left", "Unused recovery codes: %s", "未使用的恢复码：%s 个"},
    {"account.recovery_hint",
     "Use one when you cannot use any of your methods. Each code "
     "works once.",
     "当您无法使用任何验证方式时，可以用恢复码登录。每个恢复码只能使用一次。"},
    {"account.new_codes_hint", "A new set makes your old codes stop working.",
     "生成新的恢复码后，旧的恢复码将失效。"},
    {"account.disable", "Turn off two-step verification", "关闭两步验证"},
    {"account.devices", "Devices that skip the second step", "无需第二步验证的设备"},
    {"account.devices_hint",
     "These browsers were remembered when you chose \"Don't ask again on this device\". "
     "Forget any you do not recognise.",
     "这些浏览器是您选择“在此设备上不再询问”时记住的。请忘记任何您不认识的设备。"},
    {"account.devices_none",
     "No device skips the second step. To skip it on this one, tick \"Don't ask again on "
     "this device\" when you next sign in.",
     "没有设备可以跳过第二步验证。如需在此设备上跳过，请在下次登录时勾选“在此设备上不再询问”。"},
    {"account.device_last_seen", "Last used %s", "上次使用：%s"},
    {"account.device_until", "Remembered until %s", "记住至 %s"},
    {"badge.this_device", "This device", "此设备"},
    {"btn.forget", "Forget", "忘记"},
    {"btn.forget_all", "Forget all devices", "忘记所有设备"},
    {"notice.device_forgotten", "The device will ask for the second step again.",
     "该设备将再次要求第二步验证。"},
    {"notice.devices_forgotten", "Every device will ask for the second step again.",
     "所有设备都将再次要求第二步验证。"},
    {"account.keep_one",
     "Your organisation requires two-step verification, so your last method cannot be "
     "removed. Add another one first.",
     "您所在组织要求使用两步验证，因此无法删除最后一个验证方式。请先添加其他方式。"},
    {"account.disable_hint", "Signing in will then need only your password.",
     "关闭后，登录时只需要密码。"},

    /* Adding a method (/account/add/...). */
    /* Titles name the method as the lists do (factor.*). */
    {"add.sms", "Add text message", "添加短信验证"},
    {"add.email", "Add email", "添加电子邮件验证"},
    {"add.totp", "Add authenticator app", "添加身份验证器应用"},
    {"add.sms_desc", "We text a code to your phone.", "我们把验证码以短信发送到您的手机。"},
    {"add.email_desc", "We email a code to you.", "我们把验证码发送到您的电子邮箱。"},
    {"add.totp_desc", "Use an app such as Google Authenticator. Works without a network.",
     "使用 Google Authenticator 等应用，无需网络。"},
    {"add.webauthn", "Add a passkey or security key", "添加通行密钥或安全密钥"},
    {"add.webauthn_desc",
     "Use your fingerprint, face, screen lock or a security key. Needs JavaScript.",
     "使用指纹、面容、屏幕锁或安全密钥。需要启用 JavaScript。"},

    /* Passkeys (/account/add/webauthn, and passkey.js's messages). */
    {"passkey.intro",
     "A passkey lets you confirm it's you with your fingerprint, face or screen lock, or "
     "with a security key. It works only on this site, so nobody can trick you into using "
     "it on a fake one.",
     "通行密钥让您用指纹、面容、屏幕锁或安全密钥确认身份。它只能在本网站使用，因此没有人能骗您在仿"
     "冒网"
     "站上使用它。"},
    {"passkey.name", "Name (optional)", "名称（可选）"},
    {"passkey.name_hint",
     "To tell your passkeys apart, for example \"Work laptop\". Leave it empty to name it "
     "after your device.",
     "用于区分您的通行密钥，例如“工作电脑”。留空则以您的设备命名。"},
    {"field.passkey_name", "Name", "名称"},
    {"passkey.needs_js", "Passkeys need JavaScript. Turn it on, or try another way below.",
     "通行密钥需要启用 JavaScript。请启用 JavaScript，或在下方换一种方式。"},
    {"passkey.unsupported", "This browser cannot use passkeys. Try another way below.",
     "此浏览器无法使用通行密钥。请在下方换一种方式。"},
    {"passkey.needs_js_add",
     "Passkeys need JavaScript. Turn it on, or go back and choose another method.",
     "通行密钥需要启用 JavaScript。请启用 JavaScript，或返回选择其他方式。"},
    {"passkey.unsupported_add",
     "This browser cannot create passkeys. Go back and choose another method.",
     "此浏览器无法创建通行密钥。请返回选择其他方式。"},
    {"passkey.cancelled", "The passkey was not used. Try again, or choose another way.",
     "未使用通行密钥。请重试，或换一种方式。"},
    {"passkey.exists", "This passkey or security key is added already.",
     "该通行密钥或安全密钥已添加。"},
    {"passkey.failed", "Something went wrong with the passkey. Try again.",
     "通行密钥出错了，请重试。"},
    {"bind.sms_intro", "We will text a code to this number to make sure it's yours.",
     "我们将向这个号码发送短信验证码，以确认它属于您。"},
    {"bind.email_intro", "We will email a code to this address to make sure it's yours.",
     "我们将向这个地址发送验证码邮件，以确认它属于您。"},
    {"title.verify_sms", "Confirm your phone number", "验证手机号码"},
    {"title.verify_email", "Confirm your email address", "验证电子邮箱"},
    {"bind.change_sms", "Use a different number", "使用其他号码"},
    {"bind.change_email", "Use a different address", "使用其他地址"},

    /* The authenticator app (/account/add/totp). */
    {"totp.step1",
     "Open an authenticator app on your phone, such as Google Authenticator, "
     "Microsoft Authenticator or FreeOTP.",
     "在手机上打开身份验证器应用，例如 Google Authenticator、Microsoft Authenticator 或 "
     "FreeOTP。"},
    {"totp.step2", "Scan this QR code with the app.", "用应用扫描这个二维码。"},
    {"totp.cant_scan", "Can't scan it? Enter this setup key in the app instead:",
     "无法扫描？请在应用中手动输入这个设置密钥："},
    {"totp.step3", "Enter the code the app shows to finish.", "输入应用显示的验证码以完成设置。"},
    {"totp.key_label", "Setup key", "设置密钥"},
    {"totp.open_app", "Open in authenticator app", "在身份验证器应用中打开"},
    {"totp.open_app_hint", "On the phone that has the app, this adds the account in one step.",
     "在装有该应用的手机上，点此即可一步添加账户。"},
    {"totp.qr_label", "QR code for your authenticator app", "用于身份验证器应用的二维码"},

    /* Recovery codes, shown once. */
    {"title.recovery", "Save your recovery codes", "保存您的恢复码"},
    {"recovery.intro",
     "If you cannot use any of your methods, you can sign in with one of "
     "these codes.",
     "如果您无法使用任何验证方式，可以用这些恢复码之一登录。"},
    {"recovery.once",
     "Each code works only once. Keep them somewhere safe, such as a password "
     "manager: you will not see them again.",
     "每个恢复码只能使用一次。请把它们保存在安全的地方（例如密码管理器），它们不会再次显示。"},
    {"recovery.list", "Your recovery codes", "您的恢复码"},
    {"recovery.copied", "Copied.", "已复制。"},
    {"recovery.copy_failed", "Could not copy. Select the codes and copy them yourself.",
     "无法复制，请手动选择并复制恢复码。"},
    {"recovery.file_title", "%s recovery codes. Each code works once.",
     "%s 恢复码。每个恢复码只能使用一次。"},
    {"recovery.file_account", "Account: %s", "账户：%s"},
    {"recovery.file_made", "Made on %s (UTC)", "生成日期：%s（UTC）"},

    /* The enrolment offer inside a login. */
    {"title.enrol", "Protect your account", "保护您的账户"},
    {"title.enrol_required", "Set up two-step verification", "设置两步验证"},
    {"enrol.intro", "Add a second step, so your password alone is not enough to sign in.",
     "添加第二步验证，这样仅凭密码无法登录您的账户。"},
    {"enrol.required_app", "%s requires two-step verification. Choose a method to continue.",
     "%s 要求开启两步验证。请选择一种方式以继续。"},
    {"enrol.required", "Two-step verification is required. Choose a method to continue.",
     "必须开启两步验证。请选择一种方式以继续。"},
    {"enrol.choose", "Choose a method", "选择验证方式"},
    {"enrol.none", "No method is available. Please contact your administrator.",
     "没有可用的验证方式，请联系管理员。"},
    {"enrol.phr_app", "%s asks for a passkey for this sign-in. Add one to continue.",
     "%s 要求本次登录使用通行密钥。请添加一个以继续。"},
    {"enrol.phr", "This sign-in needs a passkey. Add one to continue.",
     "本次登录需要使用通行密钥。请添加一个以继续。"},
    {"enrol.skip_hint", "You can add one later on your account page.",
     "您可以稍后在账户页面添加。"},

    /* Confirmations. */
    {"title.confirm_remove", "Remove this method?", "删除这个验证方式？"},
    {"confirm.remove_body", "You will no longer be able to use it to confirm it's you.",
     "删除后，您将无法再用它确认身份。"},
    {"title.confirm_disable", "Turn off two-step verification?", "关闭两步验证？"},
    {"title.confirm_recovery", "Make a new set of recovery codes?", "生成新的恢复码？"},
    {"confirm.recovery_body",
     "You have %s unused recovery codes. A new set replaces them: the old codes stop "
     "working at once.",
     "您还有 %s 个未使用的恢复码。新的一组会替换它们：旧的恢复码将立即失效。"},
    {"confirm.disable_body",
     "Your methods and recovery codes will be removed, and signing in "
     "will need only your password.",
     "您的所有验证方式和恢复码都将被删除，登录时只需要密码。"},

    /* Messages (ui_page_message). */
    {"title.link_invalid", "This link does not work", "此链接无效"},
    {"body.link_invalid",
     "It may have expired or been used already. Go back to the app and try "
     "again.",
     "链接可能已过期或已被使用。请返回应用重试。"},
    {"title.session_expired", "Your session has expired", "会话已过期"},
    {"body.session_expired",
     "For your security, it ended after a while without activity. Go "
     "back to the app and sign in again.",
     "为了您的安全，长时间未操作后会话已结束。请返回应用重新登录。"},
    {"title.done", "All done", "已完成"},
    {"body.done", "You can close this window now.", "您现在可以关闭此窗口。"},
    {"title.locked", "Your account is locked", "您的账户已被锁定"},
    {"body.locked_admin",
     "Too many wrong codes were entered. Contact your administrator to unlock your "
     "account.",
     "输入错误的验证码次数过多。请联系管理员解锁您的账户。"},
    {"body.locked_contact", "Too many wrong codes were entered. Contact %s to unlock your account.",
     "输入错误的验证码次数过多。请联系 %s 解锁您的账户。"},
    {"title.cannot_enrol", "Two-step verification cannot be set up", "无法设置两步验证"},
    {"body.cannot_enrol",
     "Your organisation requires two-step verification, but no method can be set up "
     "here yet. Contact your administrator.",
     "您所在组织要求使用两步验证，但目前无法在此设置任何验证方式。请联系管理员。"},
    {"body.cannot_enrol_phr",
     "This app asks for a passkey, but passkeys cannot be set up here. Contact your "
     "administrator.",
     "此应用要求使用通行密钥，但此处无法设置通行密钥。请联系管理员。"},
    {"title.not_found", "Page not found", "找不到该页面"},
    {"body.not_found", "Check the address. If an app sent you here, go back to it and start again.",
     "请检查网址。如果是某个应用把您带到这里，请返回该应用重新开始。"},
    {"title.method_not_allowed", "This page cannot be opened directly", "无法直接打开此页面"},
    {"body.method_not_allowed",
     "It is the end of a form. Go back and send the form again, or start again from the app.",
     "这是表单提交后的页面。请返回重新提交表单，或从应用重新开始。"},
    {"title.error", "Something went wrong", "出错了"},
    {"body.error",
     "Please try again in a moment. If it keeps happening, contact your "
     "administrator.",
     "请稍后重试。如果问题仍然存在，请联系管理员。"},

    /* Errors the handlers pass in ctx.error ("%s" is ctx.error_arg). */
    {"err.wrong_code", "That code is not right. Tries left: %s", "验证码不正确。剩余尝试次数：%s"},
    {"err.expired", "This code has expired. Send a new one.", "验证码已过期，请重新发送。"},
    {"err.no_attempts", "This code had too many wrong tries and no longer works. Send a new code.",
     "该验证码错误次数过多，已经失效。请重新发送验证码。"},
    {"err.wrong_code_dead",
     "That code is not right, and it had too many wrong tries: it no longer works. Send a new "
     "code.",
     "验证码不正确，且错误次数过多，该验证码已经失效。请重新发送验证码。"},
    {"err.resend_wait", "A new code can be sent in %s. The code we sent before still works.",
     "%s后可以重新发送。之前发送的验证码仍然有效。"},
    {"err.wait", "Too many wrong codes. Try again in %s.", "错误次数过多，请在%s后重试。"},
    {"err.locked",
     "Your account is locked after too many wrong codes. Use a recovery code or "
     "contact your administrator.",
     "由于错误次数过多，您的账户已被锁定。请使用恢复码或联系管理员。"},
    {"err.rate_limited", "Too many codes sent. Try again in %s, or try another way.",
     "发送的验证码过多。请在%s后重试，或换一种方式。"},
    {"err.wrong_wait", "That code is not right. Try again in %s.", "验证码不正确。请在%s后重试。"},
    {"err.wrong_wait_soon", "That code is not right. Tries left before you have to wait: %s",
     "验证码不正确。再错 %s 次后需要等待。"},
    {"err.wrong_lock_soon", "That code is not right. Tries left before your account is locked: %s",
     "验证码不正确。再错 %s 次后您的账户将被锁定。"},
    {"err.codes_shown_once",
     "Recovery codes are shown only once. If you did not save them, make a new set.",
     "恢复码只显示一次。如果您没有保存，请生成新的一组。"},
    {"err.last_factor",
     "Your organisation requires two-step verification: add another method before you "
     "remove this one.",
     "您所在组织要求使用两步验证：请先添加其他验证方式，再删除此方式。"},
    {"err.invalid_phone", "Enter a valid phone number.", "请输入有效的手机号码。"},
    {"err.invalid_email", "Enter a valid email address.", "请输入有效的电子邮箱地址。"},
    {"err.country", "Text messages to this country or region are not available.",
     "暂不支持向该国家或地区发送短信。"},
    {"err.delivery", "We could not send the code. Try again, or try another way.",
     "验证码发送失败。请重试，或换一种方式。"},
    {"err.csrf", "This form has expired. Please try again.", "表单已过期，请重试。"},
    {"err.session", "Your session has expired. Go back to the app and sign in again.",
     "会话已过期。请返回应用重新登录。"},
    {"err.conflict", "This method is already added.", "该验证方式已添加。"},
    {"err.not_allowed", "Your organisation's policy does not allow this.",
     "您所在组织的策略不允许此操作。"},
    {"err.passkey_only", "This sign-in needs your passkey: a code cannot be used here.",
     "本次登录需要使用您的通行密钥，不能使用验证码。"},
    {"err.generic", "Something went wrong. Please try again.", "出错了，请重试。"},
    {"err.passkey_refused", "That passkey could not be verified. Try again, or try another way.",
     "无法验证该通行密钥。请重试，或换一种方式。"},
    {"err.passkey_wait", "That passkey could not be verified. Try again in %s.",
     "无法验证该通行密钥。请在%s后重试。"},
    {"err.passkey_expired", "That attempt has expired. Try again.", "本次尝试已过期，请重试。"},
    {"err.passkey_exists", "This passkey or security key is added already.",
     "该通行密钥或安全密钥已添加。"},
    {"err.recovery_wrong", "That recovery code is not right, or it has been used already.",
     "恢复码不正确或已被使用。"},

    /* What the alerts say when the handler gives no value for "%s". */
    {"err.wrong_code.short", "That code is not right.", "验证码不正确。"},
    {"err.wait.short", "Too many wrong codes. Wait a moment, then try again.",
     "错误次数过多，请稍后重试。"},
    {"err.rate_limited.short", "Too many codes sent. Try again later.",
     "发送的验证码过多，请稍后重试。"},
    {"err.resend_wait.short",
     "A new code can be sent in a moment. The code we sent before still works.",
     "稍后可以重新发送。之前发送的验证码仍然有效。"},

    /* Notices the handlers pass in ctx.notice. */
    {"notice.code_sent", "We sent a code to %s.", "验证码已发送到 %s。"},
    {"notice.factor_added", "Method added.", "验证方式已添加。"},
    {"notice.added_sms", "Text message added for %s.", "已为 %s 添加短信验证。"},
    {"notice.added_sms.short", "Text message added.", "已添加短信验证。"},
    {"notice.added_email", "Email added for %s.", "已为 %s 添加电子邮件验证。"},
    {"notice.added_email.short", "Email added.", "已添加电子邮件验证。"},
    {"notice.added_totp", "Authenticator app added.", "已添加身份验证器应用。"},
    {"notice.factor_removed", "Method removed.", "验证方式已删除。"},
    {"notice.passkey_added", "Passkey added.", "通行密钥已添加。"},
    {"notice.passkey_renamed", "Passkey renamed.", "通行密钥已重命名。"},
    {"notice.preferred_set", "Preferred method changed.", "首选验证方式已更改。"},
    {"notice.mfa_off", "Two-step verification is off.", "两步验证已关闭。"},
    {"notice.recovery_low", "Only %s recovery codes left. Make a new set.",
     "只剩 %s 个恢复码，请生成新的一组。"},
    {"notice.code_sent.short", "We sent you a code.", "验证码已发送。"},
    {"notice.recovery_low.short", "You are running low on recovery codes. Make a new set.",
     "恢复码所剩不多，请生成新的一组。"},
    {"notice.recovery_new", "Your new recovery codes are ready. The old ones no longer work.",
     "新的恢复码已生成，旧的恢复码已失效。"},

    /* The landing page and the development outbox (operators, not end users). */
    {"title.home", "%s is running", "%s 正在运行"},
    {"home.body",
     "This is a second-factor gateway. Applications send their signed-in users "
     "here to confirm a one-time code, then get them back with a signed result.",
     "这是一个第二因素验证网关。应用把已登录的用户送到这里确认一次性验证码，然后带着签名的结果返回"
     "。"},
    {"home.issuer", "Issuer:", "签发者："},
    {"home.next", "What to do next", "接下来"},
    {"home.app", "Register an app: %s prints its client id and secret once.",
     "注册一个应用：%s 会输出其客户端 ID 和密钥（只显示一次）。"},
    {"home.demo", "Or try a demo app in front of otpgate: %s",
     "或者试用放在 otpgate 前面的演示应用：%s"},
    {"home.outbox",
     "Development delivery is on: codes are not sent but written to the log and "
     "to the development outbox.",
     "开发投递已开启：验证码不会真正发送，而是写入日志和开发发件箱。"},
    {"home.outbox_link", "Open the development outbox", "打开开发发件箱"},
    {"home.admin", "Make an account for the admin console with %s, then sign in:",
     "用 %s 创建管理控制台账户，然后登录："},
    {"home.admin_link", "Admin console", "管理控制台"},
    {"home.health", "Health", "健康检查"},
    {"home.metrics", "Metrics", "指标"},
    {"title.dev_outbox", "Development outbox", "开发发件箱"},
    {"dev.note",
     "Development delivery is on: these messages were not sent anywhere. Configure "
     "SMTP and an SMS provider for real delivery.",
     "开发投递已开启：这些消息没有真正发送。请配置 SMTP 和短信服务商以实际投递。"},
    {"dev.empty", "No messages yet.", "还没有消息。"},
    {"dev.refresh", "Refresh", "刷新"},
    {"dev.auto", "New messages appear here by themselves, newest first.",
     "新消息会自动显示在这里，最新的在最前面。"},
    {"dev.arrived", "A new message arrived.", "收到一条新消息。"},
    {"dev.code", "Code:", "验证码："},
    {"dev.to", "To %s", "发送给 %s"},
    {"dev.text", "Text", "文本"},
    {"dev.html_title", "The HTML e-mail to %s", "发送给 %s 的 HTML 邮件"},
    {"dev.open_html", "Open the HTML e-mail on its own", "单独打开 HTML 邮件"},
    {"dev.hint",
     "Development delivery is on: codes sent without a provider show in the "
     "development outbox.",
     "开发投递已开启：没有服务商时，验证码显示在开发发件箱中。"},
    {"dev.hint_link", "Open the development outbox", "打开开发发件箱"},

    /* The admin console's page titles (its pages are in English). */
    {"admin.title.login", "Admin sign-in", "管理员登录"},
    {"admin.title.apps", "Applications", "应用"},
    {"admin.title.users", "Users", "用户"},
    {"admin.title.deliveries", "Delivery log", "发送记录"},
    {"admin.title.page", "%s", "%s"}, /* the console's other pages: English titles */

    /* The calling-code picker's entry for a code its list lacks (names
     * of countries are in countries.c). */
    {"country.other", "Other", "其他"},
};

static _Atomic unsigned long i18n_misses;

bool ui_locale_is_zh(const char *locale)
{
    return locale && (locale[0] == 'z' || locale[0] == 'Z') &&
           (locale[1] == 'h' || locale[1] == 'H');
}

static const struct i18n_entry *i18n_find(const char *key)
{
    if (!key)
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(i18n_table); i++)
        if (strcmp(i18n_table[i].key, key) == 0)
            return &i18n_table[i];
    return NULL;
}

const char *ui_t(const char *locale, const char *key)
{
    const struct i18n_entry *e = i18n_find(key);
    if (!e) {
        i18n_misses++;
        return key ? key : "";
    }
    if (ui_locale_is_zh(locale)) {
        if (e->zh && e->zh[0])
            return e->zh;
        i18n_misses++;
    }
    return e->en;
}

size_t ui_i18n_count(void)
{
    return ARRAY_SIZE(i18n_table);
}

const char *ui_i18n_key(size_t i)
{
    return i < ARRAY_SIZE(i18n_table) ? i18n_table[i].key : NULL;
}

bool ui_i18n_has(const char *locale, const char *key)
{
    const struct i18n_entry *e = i18n_find(key);
    if (!e)
        return false;
    const char *s = ui_locale_is_zh(locale) ? e->zh : e->en;
    return s && s[0];
}

unsigned long ui_i18n_misses(void)
{
    return i18n_misses;
}

/* ---- the calling-code picker's lookups ---------------------------------- */

static bool ascii_eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y || !x)
            return false;
    }
    return true;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

const struct ui_country *ui_country_by_iso(const char *iso)
{
    if (!iso || !is_alpha(iso[0]) || !is_alpha(iso[1]) || iso[2])
        return NULL;
    for (size_t i = 0; i < ui_country_count; i++)
        if (ascii_eq_nocase(ui_countries[i].iso, iso, 2))
            return &ui_countries[i];
    return NULL;
}

const struct ui_country *ui_country_by_code(const char *code)
{
    const struct ui_country *found = NULL;
    if (!code)
        return NULL;
    for (size_t i = 0; i < ui_country_count; i++)
        if (strcmp(ui_countries[i].code, code) == 0 && (!found || ui_countries[i].main))
            found = &ui_countries[i];
    return found;
}

/* Only the first language tag counts: a German browser that also accepts
 * "en-US" is still German. Subtags: language, an optional 4-letter script,
 * then a 2-letter region (a numeric one, "es-419", falls back to the
 * language). */
const struct ui_country *ui_country_from_accept_language(const char *header)
{
    if (!header)
        return NULL;
    while (*header == ' ' || *header == ',')
        header++;
    size_t n = strcspn(header, ",; ");
    const char *tag = header, *end = header + n;
    size_t lang = strcspn(tag, "-_");
    if (lang > (size_t)(end - tag))
        lang = (size_t)(end - tag);
    const char *sub = tag + lang;
    while (sub < end) {
        sub++; /* past '-' or '_' */
        size_t k = strcspn(sub, "-_");
        if (sub + k > end)
            k = (size_t)(end - sub);
        if (k == 2 && is_alpha(sub[0]) && is_alpha(sub[1])) {
            char iso[3] = {sub[0], sub[1], '\0'};
            const struct ui_country *c = ui_country_by_iso(iso);
            if (c)
                return c;
            break;
        }
        sub += k;
    }
    if (lang < 2 || lang > 3)
        return NULL;
    for (size_t i = 0; i < ui_language_region_count; i++)
        if (strlen(ui_language_regions[i].language) == lang &&
            ascii_eq_nocase(ui_language_regions[i].language, tag, lang))
            return ui_country_by_iso(ui_language_regions[i].iso);
    return NULL;
}
