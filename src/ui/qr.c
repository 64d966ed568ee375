/* QR codes as inline SVG (libqrencode, error correction M): one <path> of
 * horizontal runs of dark modules on a white square with a 4-module quiet
 * zone, so the markup stays small and scales crisply. Never logs the text
 * (it holds a TOTP secret). */
#include "ui/pages.h"

#include "ui/ui.h"

#include <qrencode.h>
#include <stdlib.h>

#define QR_QUIET   4 /* modules of white border (ISO/IEC 18004) */
#define QR_SVG_CAP ((size_t)1 << 20)

char *ui_qr_svg(const char *text, const char *label)
{
    if (!text || !text[0])
        return NULL;
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr)
        return NULL;
    int w = qr->width;
    int size = w + 2 * QR_QUIET;
    struct buf b;
    buf_init(&b, QR_SVG_CAP);
    int rc = buf_printf(&b,
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr-code\" "
                        "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
                        size, size);
    ui_html_escape(&b, label ? label : "");
    buf_printf(&b,
               "\" shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
               "fill=\"#fff\"/><path fill=\"#000\" d=\"",
               size, size);
    for (int y = 0; y < w && rc == OG_OK; y++) {
        const unsigned char *row = qr->data + (size_t)y * (size_t)w;
        int x = 0;
        while (x < w && rc == OG_OK) {
            if (!(row[x] & 1)) {
                x++;
                continue;
            }
            int start = x;
            while (x < w && (row[x] & 1))
                x++;
            rc = buf_printf(&b, "M%d %dh%dv1h-%dz", start + QR_QUIET, y + QR_QUIET, x - start,
                            x - start);
        }
    }
    QRcode_free(qr);
    if (rc == OG_OK)
        rc = buf_append_str(&b, "\"/></svg>");
    if (rc != OG_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}
