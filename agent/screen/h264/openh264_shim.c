//go:build cgo && (linux || darwin) && !noopenh264

// C side of encoder_openh264.go: OpenH264 through its C vtable, libyuv for
// BGRA to I420. Compiled with the cgo flags that file declares.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <libyuv/convert_from_argb.h>

#include "openh264_shim.h"

// pdh264_enc is everything the encoder owns in C memory, so that no Go
// pointer is ever stored on the C side. One per Encoder; the Go side
// serialises use.
struct pdh264_enc {
	ISVCEncoder *enc;
	int width, height;
	unsigned char *yuv;       // reused I420 picture: Y, then U, then V
	SSourcePicture pic;       // points into yuv
	SFrameBSInfo info;        // output of the last EncodeFrame
	pthread_mutex_t mu;       // guards msg: OpenH264 logs from its worker threads
	char msg[256];            // last error OpenH264 logged
};

static void pdh264_trace(void *ctx, int level, const char *s) {
	pdh264_enc *e = ctx;
	if (level > WELS_LOG_ERROR) return;
	pthread_mutex_lock(&e->mu);
	snprintf(e->msg, sizeof e->msg, "%s", s);
	pthread_mutex_unlock(&e->mu);
}

void pdh264_lastmsg(pdh264_enc *e, char *dst, int n) {
	pthread_mutex_lock(&e->mu);
	snprintf(dst, n, "%s", e->msg);
	e->msg[0] = 0;
	pthread_mutex_unlock(&e->mu);
}

void pdh264_close(pdh264_enc *e) {
	if (e->enc) {
		(*e->enc)->Uninitialize(e->enc);
		WelsDestroySVCEncoder(e->enc);
	}
	free(e->yuv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

// pdh264_set_bitrate moves target and peak (iMaxBitrate) together from old
// to bps. OpenH264 checks the layer's peak against its target on every change
// (and half-applies a change it rejects); the peak of SPATIAL_LAYER_ALL does
// not reach the layer, so the layer's own peak is set too, first when
// raising and last when lowering.
int pdh264_set_bitrate(pdh264_enc *e, int old, int bps) {
	SBitrateInfo all = { SPATIAL_LAYER_ALL, bps }, layer = { SPATIAL_LAYER_0, bps };
	ISVCEncoder *c = e->enc;
	int rc;
	if (bps > old) {
		if ((rc = (*c)->SetOption(c, ENCODER_OPTION_MAX_BITRATE, &layer)) != 0) return rc;
		if ((rc = (*c)->SetOption(c, ENCODER_OPTION_MAX_BITRATE, &all)) != 0) return rc;
		return (*c)->SetOption(c, ENCODER_OPTION_BITRATE, &all);
	}
	if ((rc = (*c)->SetOption(c, ENCODER_OPTION_BITRATE, &all)) != 0) return rc;
	if ((rc = (*c)->SetOption(c, ENCODER_OPTION_MAX_BITRATE, &layer)) != 0) return rc;
	return (*c)->SetOption(c, ENCODER_OPTION_MAX_BITRATE, &all);
}

// pdh264_open creates and initialises an encoder. On failure *out is still
// set (when allocation succeeded) so the caller can read the message, then
// pdh264_close it.
int pdh264_open(pdh264_enc **out, int w, int h, int fps, int bps, int keyint,
                int threads, int slices, int complexity, int camera) {
	*out = NULL;
	pdh264_enc *e = calloc(1, sizeof *e);
	if (!e) return cmMallocMemeError;
	pthread_mutex_init(&e->mu, NULL);
	*out = e;
	e->width = w;
	e->height = h;
	e->yuv = malloc((size_t)w * h + 2 * (size_t)(w / 2) * (h / 2));
	if (!e->yuv) return cmMallocMemeError;
	if (WelsCreateSVCEncoder(&e->enc) != 0 || !e->enc) {
		e->enc = NULL;
		return cmMallocMemeError;
	}

	// Route OpenH264's log into msg instead of stderr; errors only.
	void *ctx = e;
	WelsTraceCallback cb = pdh264_trace;
	int level = WELS_LOG_ERROR;
	(*e->enc)->SetOption(e->enc, ENCODER_OPTION_TRACE_CALLBACK_CONTEXT, &ctx);
	(*e->enc)->SetOption(e->enc, ENCODER_OPTION_TRACE_CALLBACK, &cb);
	(*e->enc)->SetOption(e->enc, ENCODER_OPTION_TRACE_LEVEL, &level);

	SEncParamExt p;
	(*e->enc)->GetDefaultParams(e->enc, &p);
	p.iUsageType = camera ? CAMERA_VIDEO_REAL_TIME : SCREEN_CONTENT_REAL_TIME;
	p.iPicWidth = w;
	p.iPicHeight = h;
	p.iTargetBitrate = bps;
	p.iMaxBitrate = bps;
	p.iRCMode = RC_BITRATE_MODE;
	p.fMaxFrameRate = (float)fps;
	p.bEnableFrameSkip = true;
	p.iTemporalLayerNum = 1;
	p.iSpatialLayerNum = 1;
	p.iComplexityMode = (ECOMPLEXITY_MODE)complexity;
	p.uiIntraPeriod = (unsigned int)keyint;
	p.eSpsPpsIdStrategy = CONSTANT_ID;
	p.bPrefixNalAddingCtrl = false;
	p.bEnableSSEI = false;
	p.bSimulcastAVC = false;
	p.iPaddingFlag = 0;
	p.iEntropyCodingModeFlag = 0; // CAVLC: baseline has no CABAC
	p.bEnableLongTermReference = false;
	p.iMultipleThreadIdc = (unsigned short)threads;
	p.bUseLoadBalancing = false;
	p.bEnableDenoise = false;             // would smear text
	p.bEnableBackgroundDetection = false; // unsupported for screen content
	p.bEnableAdaptiveQuant = false;       // unsupported for screen content
	p.bEnableSceneChangeDetect = true;    // required for screen content
	p.bEnableFrameCroppingFlag = true;    // 1080 is not a multiple of 16

	SSpatialLayerConfig *l = &p.sSpatialLayers[0];
	l->iVideoWidth = w;
	l->iVideoHeight = h;
	l->fFrameRate = (float)fps;
	l->iSpatialBitrate = bps;
	l->iMaxSpatialBitrate = bps;
	l->uiProfileIdc = PRO_BASELINE;
	l->uiLevelIdc = LEVEL_UNKNOWN; // derived from size, rate and bitrate
	if (slices > 1) {
		l->sSliceArgument.uiSliceMode = SM_FIXEDSLCNUM_SLICE;
		l->sSliceArgument.uiSliceNum = (unsigned int)slices;
	} else {
		l->sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
		l->sSliceArgument.uiSliceNum = 1;
	}

	int rc = (*e->enc)->InitializeExt(e->enc, &p);
	if (rc != 0) return rc;

	e->pic.iColorFormat = videoFormatI420;
	e->pic.iPicWidth = w;
	e->pic.iPicHeight = h;
	e->pic.iStride[0] = w;
	e->pic.iStride[1] = w / 2;
	e->pic.iStride[2] = w / 2;
	e->pic.pData[0] = e->yuv;
	e->pic.pData[1] = e->yuv + (size_t)w * h;
	e->pic.pData[2] = e->pic.pData[1] + (size_t)(w / 2) * (h / 2);
	return 0;
}

// pdh264_encode converts one BGRA frame into the I420 buffer and encodes it.
// It returns 0 or an OpenH264 status (-1: libyuv failed) and reports the
// frame type and the access unit's size; pdh264_copy then fetches the bytes.
int pdh264_encode(pdh264_enc *e, const unsigned char *bgra, int stride, int idr,
                  long long ts, int *ftype, int *size) {
	SSourcePicture *p = &e->pic;
	if (ARGBToI420(bgra, stride, p->pData[0], p->iStride[0], p->pData[1], p->iStride[1],
	               p->pData[2], p->iStride[2], e->width, e->height) != 0) return -1;
	int rc;
	if (idr && (rc = (*e->enc)->ForceIntraFrame(e->enc, true)) != 0) return rc;
	p->uiTimeStamp = ts;
	memset(&e->info, 0, sizeof e->info);
	if ((rc = (*e->enc)->EncodeFrame(e->enc, p, &e->info)) != 0) return rc;
	*ftype = e->info.eFrameType;
	*size = e->info.iFrameSizeInBytes;
	return 0;
}

// pdh264_copy copies the last access unit (every layer's NAL units, each
// with its Annex-B start code) into dst; it returns the bytes copied or -1.
int pdh264_copy(pdh264_enc *e, unsigned char *dst, int n) {
	int off = 0;
	for (int i = 0; i < e->info.iLayerNum; i++) {
		SLayerBSInfo *l = &e->info.sLayerInfo[i];
		int sz = 0;
		for (int j = 0; j < l->iNalCount; j++) sz += l->pNalLengthInByte[j];
		if (sz > n - off) return -1;
		memcpy(dst + off, l->pBsBuf, sz);
		off += sz;
	}
	return off;
}

int pdh264_bgra_to_i420(const unsigned char *bgra, int stride, unsigned char *dst, int w, int h) {
	unsigned char *u = dst + (size_t)w * h, *v = u + (size_t)(w / 2) * (h / 2);
	return ARGBToI420(bgra, stride, dst, w, u, w / 2, v, w / 2, w, h);
}
