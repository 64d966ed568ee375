/* Code message texts. Every value put in is already validated (app names
 * are admin-set, codes digits); the texts are plain, not HTML. */
#include "ui/messages.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *ui_locale_pick(const char *header)
{
    if (!header)
        return "en";
    /* The first listed language we have wins; q-values are rare in
     * ui_locales and Accept-Language lists are ordered by preference. */
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if ((p[0] == 'z' || p[0] == 'Z') && (p[1] == 'h' || p[1] == 'H') &&
            (p[2] == '\0' || p[2] == '-' || p[2] == '_' || p[2] == ',' || p[2] == ';' ||
             p[2] == ' '))
            return "zh";
        if ((p[0] == 'e' || p[0] == 'E') && (p[1] == 'n' || p[1] == 'N') &&
            (p[2] == '\0' || p[2] == '-' || p[2] == '_' || p[2] == ',' || p[2] == ';' ||
             p[2] == ' '))
            return "en";
        while (*p && *p != ',')
            p++;
    }
    return "en";
}

static bool is_zh(const char *locale)
{
    return locale && locale[0] == 'z' && locale[1] == 'h';
}

/* An app name short enough that the SMS stays one segment, cut on a UTF-8
 * character boundary. */
static void short_name(const char *app, char out[32])
{
    size_t n = strlen(app);
    if (n > 24) {
        n = 24;
        while (n > 0 && ((unsigned char)app[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, app, n);
    out[n] = '\0';
}

void ui_message_sms(struct buf *out, const char *locale, const char *app_name, const char *code,
                    unsigned ttl_minutes, const char *host)
{
    char app[32];
    short_name(app_name, app);
    if (is_zh(locale))
        buf_printf(out, "【%s】验证码 %s，%u 分钟内有效，请勿告诉他人。\n\n@%s #%s", app, code,
                   ttl_minutes, host, code);
    else
        buf_printf(out, "%s: your code is %s. It expires in %u min. Don't share it.\n\n@%s #%s",
                   app, code, ttl_minutes, host, code);
}

void ui_message_email(struct buf *subject, struct buf *text, const char *locale, const char *app,
                      const char *code, unsigned ttl_minutes, const char *purpose)
{
    bool enrol = purpose && strcmp(purpose, "enrol") == 0;
    if (enrol && is_zh(locale)) {
        buf_printf(subject, "%s 邮箱验证码：%s", app, code);
        buf_printf(text,
                   "您正在把这个电子邮箱添加到 %s 的两步验证，验证码是：\n\n    %s\n\n"
                   "该验证码 %u 分钟内有效，只能使用一次。如果不是您本人操作，请忽略本邮件："
                   "这个邮箱不会被添加。\n",
                   app, code, ttl_minutes);
    } else if (enrol) {
        buf_printf(subject, "Confirm your email for %s: %s", app, code);
        buf_printf(text,
                   "To add this email address to two-step verification at %s, enter this "
                   "code:\n\n    %s\n\nIt expires in %u minutes and works once. If you did not "
                   "ask for it, ignore this message: the address will not be added.\n",
                   app, code, ttl_minutes);
    } else if (is_zh(locale)) {
        buf_printf(subject, "%s 验证码：%s", app, code);
        buf_printf(text,
                   "您的 %s 验证码是：\n\n    %s\n\n该验证码 %u 分钟内有效，只能使用一次。"
                   "如果不是您本人操作，请忽略本邮件，并不要把验证码告诉任何人。\n",
                   app, code, ttl_minutes);
    } else {
        buf_printf(subject, "Your %s code: %s", app, code);
        buf_printf(text,
                   "Your %s verification code is:\n\n    %s\n\nIt expires in %u minutes and "
                   "works once. If you did not ask for it, ignore this message and do not "
                   "share the code with anyone.\n",
                   app, code, ttl_minutes);
    }
}

/* ---- security notifications ---- */

struct notice_words {
    const char *event;
    const char *subject[2]; /* en, zh */
    const char *what[2];
};

/* {app}, {method}, {Method}, {left} and {browser} are filled in. */
static const struct notice_words notice_words[] = {
    {"factor_added",
     {"{app}: a new sign-in method was added", "{app}：已添加新的验证方式"},
     {"{Method} was added to two-step verification on your {app} account.",
      "您的 {app} 账户已添加两步验证方式：{method}。"}},
    {"factor_removed",
     {"{app}: a sign-in method was removed", "{app}：已移除一种验证方式"},
     {"{Method} was removed from two-step verification on your {app} account.",
      "您的 {app} 账户已移除两步验证方式：{method}。"}},
    {"preferred_changed",
     {"{app}: your preferred sign-in method changed", "{app}：首选验证方式已更改"},
     {"Your preferred two-step verification method on {app} is now {method}.",
      "您在 {app} 的首选两步验证方式已改为：{method}。"}},
    {"mfa_disabled",
     {"{app}: two-step verification was turned off", "{app}：两步验证已关闭"},
     {"Two-step verification was turned off for your {app} account: signing in now needs only "
      "your password.",
      "您的 {app} 账户已关闭两步验证，现在只需密码即可登录。"}},
    {"recovery_code_used",
     {"{app}: a recovery code was used", "{app}：已使用一个恢复码"},
     {"One of your recovery codes was used to sign in to {app}.{left}",
      "您的一个恢复码已被用于登录 {app}。{left}"}},
    {"recovery_codes_new",
     {"{app}: new recovery codes were made", "{app}：已生成新的恢复码"},
     {"A new set of recovery codes was made for your {app} account. The old codes no longer "
      "work.",
      "已为您的 {app} 账户生成一组新的恢复码，旧的恢复码已失效。"}},
    {"locked",
     {"{app}: your account is locked", "{app}：账户已锁定"},
     {"Two-step verification on your {app} account was locked after too many wrong codes. A "
      "recovery code or your administrator can unlock it.",
      "由于输错验证码次数过多，您 {app} 账户的两步验证已被锁定。使用恢复码或联系管理员可以解锁。"}},
    {"unlocked",
     {"{app}: your account was unlocked", "{app}：账户已解锁"},
     {"An administrator unlocked two-step verification on your {app} account.",
      "管理员已为您的 {app} 账户解除两步验证锁定。"}},
    {"reset",
     {"{app}: two-step verification was reset", "{app}：两步验证已重置"},
     {"An administrator removed every two-step verification method from your {app} account. "
      "You will set one up again at your next sign-in.",
      "管理员已移除您 {app} 账户的全部两步验证方式。下次登录时您需要重新设置。"}},
    {"device_remembered",
     {"{app}: a browser will skip two-step verification", "{app}：一个浏览器将跳过两步验证"},
     {"A browser ({browser}) was remembered: for a while it will not ask for a second step "
      "when you sign in to {app}.",
      "一个浏览器（{browser}）已被记住：一段时间内在该浏览器登录 {app} 时不再需要第二步验证。"}},
};

static const struct notice_words notice_general = {
    "",
    {"{app}: your security settings changed", "{app}：您的安全设置有变更"},
    {"Something changed in two-step verification on your {app} account.",
     "您 {app} 账户的两步验证设置有变更。"}};

static const char *method_name(const char *type, bool zh, bool capital)
{
    static const struct {
        const char *type, *en, *en_cap, *zh;
    } names[] = {
        {"sms", "a phone number (SMS)", "A phone number (SMS)", "手机号码（短信）"},
        {"email", "an e-mail address", "An e-mail address", "邮箱地址"},
        {"totp", "an authenticator app", "An authenticator app", "身份验证器应用"},
        {"webauthn", "a passkey", "A passkey", "通行密钥"},
    };
    for (size_t i = 0; type && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(type, names[i].type) == 0)
            return zh ? names[i].zh : capital ? names[i].en_cap : names[i].en;
    return zh ? "验证方式" : capital ? "A sign-in method" : "a sign-in method";
}

/* Copies tmpl into out (size cap) with its {words} filled in. */
static void notice_fill(char *out, size_t cap, const char *tmpl, const struct ui_notice *n, bool zh)
{
    char left[160] = "";
    if (n->left >= 0) {
        if (zh)
            snprintf(left, sizeof(left), "还剩 %d 个未使用。%s", n->left,
                     n->left <= 3 ? "请在账户页面生成一组新的恢复码。" : "");
        else
            snprintf(left, sizeof(left), " %d unused %s left.%s", n->left,
                     n->left == 1 ? "code is" : "codes are",
                     n->left <= 3 ? " Make a new set on your account page." : "");
    }
    const struct {
        const char *word, *value;
    } vars[] = {
        {"{app}", n->app ? n->app : ""},
        {"{method}", method_name(n->factor_type, zh, false)},
        {"{Method}", method_name(n->factor_type, zh, true)},
        {"{left}", left},
        {"{browser}", n->browser && *n->browser ? n->browser : (zh ? "未知" : "unknown")},
    };
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = tmpl; *p && len + 1 < cap;) {
        const char *value = NULL;
        size_t wlen = 0;
        for (size_t i = 0; *p == '{' && i < sizeof(vars) / sizeof(vars[0]); i++) {
            wlen = strlen(vars[i].word);
            if (strncmp(p, vars[i].word, wlen) == 0) {
                value = vars[i].value;
                break;
            }
        }
        if (value) {
            int w = snprintf(out + len, cap - len, "%s", value);
            len += w < 0 ? 0 : (size_t)w < cap - len ? (size_t)w : cap - len - 1;
            p += wlen;
        } else {
            out[len++] = *p++;
            out[len] = '\0';
        }
    }
}

void ui_notice_texts(const struct ui_notice *n, struct ui_notice_text *t)
{
    bool zh = is_zh(n->locale);
    int l = zh ? 1 : 0;
    const struct notice_words *w = &notice_general;
    for (size_t i = 0; n->event && i < sizeof(notice_words) / sizeof(notice_words[0]); i++)
        if (strcmp(n->event, notice_words[i].event) == 0)
            w = &notice_words[i];
    notice_fill(t->subject, sizeof(t->subject), w->subject[l], n, zh);
    notice_fill(t->what, sizeof(t->what), w->what[l], n, zh);

    time_t secs = (time_t)(n->at_ms / 1000);
    struct tm tm;
    char at[40] = "";
    if (gmtime_r(&secs, &tm))
        snprintf(at, sizeof(at), "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min);
    snprintf(t->when, sizeof(t->when), zh ? "时间：%s" : "When: %s", at);

    bool ip = n->ip && *n->ip, browser = n->browser && *n->browser;
    if (n->by && *n->by)
        snprintf(t->where, sizeof(t->where), "%s", zh ? "操作者：管理员" : "By: an administrator");
    else if (ip || browser)
        snprintf(t->where, sizeof(t->where), "%s%s%s%s%s",
                 zh ? "来源：" : "From: ", ip ? "IP " : "", ip ? n->ip : "",
                 ip && browser ? (zh ? "，" : ", ") : "", browser ? n->browser : "");
    else
        snprintf(t->where, sizeof(t->where), "%s", zh ? "来源：未知" : "From: unknown");

    const char *app = n->app ? n->app : "";
    bool support = n->support && *n->support;
    if (zh)
        snprintf(t->advice, sizeof(t->advice),
                 "如果是您本人操作，无需理会。如果不是，请立即登录 %s，检查两步验证方式并修改密码"
                 "%s%s。本通知不含验证码，也不会向您索要验证码。",
                 app, support ? "，并联系 " : "", support ? n->support : "");
    else
        snprintf(t->advice, sizeof(t->advice),
                 "If this was you, there is nothing to do. If it was not, sign in to %s now, "
                 "check your two-step verification methods and change your password%s%s. This "
                 "message holds no code and never asks you for one.",
                 app, support ? ", and contact " : "", support ? n->support : "");
}

void ui_notice_email(struct buf *subject, struct buf *text, const struct ui_notice *n)
{
    struct ui_notice_text t;
    ui_notice_texts(n, &t);
    buf_append_str(subject, t.subject);
    buf_printf(text, "%s\n\n%s\n%s\n\n%s\n", t.what, t.when, t.where, t.advice);
}

void ui_notice_sms(struct buf *out, const struct ui_notice *n)
{
    struct ui_notice_text t;
    ui_notice_texts(n, &t);
    if (is_zh(n->locale))
        buf_printf(out, "%s。%s。如非本人操作，请立即登录检查账户安全。", t.subject, t.when);
    else
        buf_printf(out, "%s. %s. Not you? Sign in and check your account now.", t.subject, t.when);
}
