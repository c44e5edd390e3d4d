// Shim between the Go encoder and OpenH264's C vtable; see
// encoder_openh264.go. Only that file includes this header.
#ifndef PEERDESK_H264_SHIM_H
#define PEERDESK_H264_SHIM_H

#include <stdbool.h>
#include <wels/codec_api.h>

typedef struct pdh264_enc pdh264_enc;

int pdh264_open(pdh264_enc **out, int w, int h, int fps, int bps, int keyint,
                int threads, int slices, int complexity, int camera);
void pdh264_close(pdh264_enc *e);
int pdh264_set_bitrate(pdh264_enc *e, int old, int bps);
int pdh264_encode(pdh264_enc *e, const unsigned char *bgra, int stride, int idr,
                  long long ts, int *ftype, int *size);
int pdh264_copy(pdh264_enc *e, unsigned char *dst, int n);
void pdh264_lastmsg(pdh264_enc *e, char *dst, int n);
int pdh264_bgra_to_i420(const unsigned char *bgra, int stride, unsigned char *dst, int w, int h);

#endif
