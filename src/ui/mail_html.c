/* HTML code email. Mail clients ignore stylesheets and scripts, so the
 * markup is a small single-column layout with inline styles; colours keep
 * at least 7:1 contrast and every value goes through ui_html_escape. */
#include "ui/mail_html.h"

#include "ui/ui.h"

#include <stdio.h>
#include <string.h>

struct mail_texts {
    const char *lang;
    const char *title;   /* "%s" is the app */
    const char *lead;    /* before the code */
    const char *expires; /* "%s" is the minutes */
    const char *ignore;
};

static const struct mail_texts mail_en = {
    .lang = "en",
    .title = "Your %s verification code",
    .lead = "Use this code to finish signing in:",
    .expires = "It expires in %s minutes and works once.",
    .ignore = "If you did not ask for this code, ignore this message and do not share the code "
              "with anyone, including people who say they work for us.",
};

static const struct mail_texts mail_en_enrol = {
    .lang = "en",
    .title = "Confirm your email for %s",
    .lead = "Enter this code to add this email address to two-step verification:",
    .expires = "It expires in %s minutes and works once.",
    .ignore = "If you did not ask for this code, ignore this message: the address will not be "
              "added. Do not share the code with anyone.",
};

static const struct mail_texts mail_zh_enrol = {
    .lang = "zh-CN",
    .title = "%s 邮箱验证",
    .lead = "请输入以下验证码，把这个电子邮箱添加到两步验证：",
    .expires = "该验证码 %s 分钟内有效，只能使用一次。",
    .ignore = "如果不是您本人操作，请忽略本邮件：这个邮箱不会被添加。请不要把验证码告诉任何人。",
};

static const struct mail_texts mail_zh = {
    .lang = "zh-CN",
    .title = "您的 %s 验证码",
    .lead = "请使用以下验证码完成登录：",
    .expires = "该验证码 %s 分钟内有效，只能使用一次。",
    .ignore =
        "如果不是您本人操作，请忽略本邮件，并不要把验证码告诉任何人，包括自称是我们工作人员的人。",
};

/* Appends fmt with its one "%s" replaced by the escaped value. */
static void append_with_escaped(struct buf *out, const char *fmt, const char *value)
{
    const char *hole = strstr(fmt, "%s");
    if (!hole) {
        buf_append_str(out, fmt);
        return;
    }
    buf_append(out, fmt, (size_t)(hole - fmt));
    ui_html_escape(out, value);
    buf_append_str(out, hole + 2);
}

/* The document up to the heading's text: lang, the title (fmt with its
 * "%s" the escaped value) in <title>, the article's label and <h1>. */
static void doc_start(struct buf *out, const char *lang, const char *fmt, const char *value)
{
    buf_append_str(out, "<!DOCTYPE html>\n<html lang=\"");
    buf_append_str(out, lang);
    buf_append_str(out, "\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                        "<meta name=\"color-scheme\" content=\"light\">\n<title>");
    append_with_escaped(out, fmt, value);
    buf_append_str(out, "</title>\n</head>\n"
                        "<body style=\"margin:0;padding:0;background-color:#f3f4f6;\">\n"
                        "<div role=\"article\" aria-roledescription=\"email\" lang=\"");
    buf_append_str(out, lang);
    buf_append_str(out, "\" aria-label=\"");
    append_with_escaped(out, fmt, value);
    buf_append_str(
        out, "\" style=\"max-width:480px;margin:0 auto;padding:24px 16px;"
             "font-family:-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
             "'PingFang SC','Microsoft YaHei',sans-serif;font-size:16px;line-height:1.5;"
             "color:#111827;\">\n"
             "<div style=\"background-color:#ffffff;border:1px solid #d1d5db;border-radius:8px;"
             "padding:24px;\">\n"
             "<h1 style=\"margin:0 0 16px;font-size:20px;line-height:1.3;color:#111827;\">");
    append_with_escaped(out, fmt, value);
}

/* Closes the last paragraph and the document. */
static void doc_end(struct buf *out)
{
    buf_append_str(out, "</p>\n</div>\n</div>\n</body>\n</html>\n");
}

void ui_mail_html(struct buf *out, const char *locale, const char *app, const char *code,
                  unsigned ttl_minutes, const char *purpose)
{
    bool zh = locale && locale[0] == 'z' && locale[1] == 'h';
    bool enrol = purpose && strcmp(purpose, "enrol") == 0;
    const struct mail_texts *t =
        enrol ? (zh ? &mail_zh_enrol : &mail_en_enrol) : (zh ? &mail_zh : &mail_en);
    if (!app)
        app = "";
    if (!code)
        code = "";

    doc_start(out, t->lang, t->title, app);
    buf_append_str(out, "</h1>\n<p style=\"margin:0 0 12px;\">");
    buf_append_str(out, t->lead);
    /* The code: large, monospaced, spaced out, and selectable as one word. */
    buf_append_str(out, "</p>\n<p style=\"margin:0 0 16px;\"><span style=\"display:inline-block;"
                        "padding:12px 20px;background-color:#f3f4f6;border:1px solid #9ca3af;"
                        "border-radius:6px;font-family:ui-monospace,Menlo,Consolas,"
                        "'Liberation Mono','Courier New',monospace;font-size:32px;"
                        "font-weight:700;letter-spacing:6px;color:#111827;\">");
    ui_html_escape(out, code);
    buf_append_str(out, "</span></p>\n<p style=\"margin:0 0 12px;\">");
    char minutes[16];
    snprintf(minutes, sizeof(minutes), "%u", ttl_minutes);
    append_with_escaped(out, t->expires, minutes);
    buf_append_str(out, "</p>\n<p style=\"margin:0;color:#374151;font-size:14px;\">");
    buf_append_str(out, t->ignore);
    doc_end(out);
}

void ui_notice_html(struct buf *out, const struct ui_notice *n)
{
    struct ui_notice_text t;
    ui_notice_texts(n, &t);
    bool zh = n->locale && n->locale[0] == 'z' && n->locale[1] == 'h';
    doc_start(out, zh ? mail_zh.lang : mail_en.lang, "%s", t.subject);
    buf_append_str(out, "</h1>\n<p style=\"margin:0 0 12px;\">");
    ui_html_escape(out, t.what);
    buf_append_str(out, "</p>\n<p style=\"margin:0 0 4px;\">");
    ui_html_escape(out, t.when);
    buf_append_str(out, "</p>\n<p style=\"margin:0 0 16px;\">");
    ui_html_escape(out, t.where);
    buf_append_str(out, "</p>\n<p style=\"margin:0;color:#374151;font-size:14px;\">");
    ui_html_escape(out, t.advice);
    doc_end(out);
}
