/**
 * One device's keys for one call: the epoch state machine (HPKE key packages in and out) and
 * the SFrame sender and receiver of the current epoch. Secrets stay inside.
 */
export class Call {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        CallFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_call_free(ptr, 0);
    }
    /**
     * Installs a fresh epoch from another member's package; `roster_json` is the new roster
     * (after a removal) or `undefined` (a rekey).
     * @param {string} package_json
     * @param {string | null | undefined} roster_json
     * @param {bigint} now
     */
    accept(package_json, roster_json, now) {
        const val3 = BigInt.asIntN(64, now);
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passStringToWasm0(package_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = isLikeNone(roster_json) ? 0 : passStringToWasm0(roster_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.call_accept(this.__wbg_ptr, ptr0, len0, ptr1, len1, val3);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Admits newcomers (join ratchet); with `seal`, returns their key packages as JSON.
     * @param {string} joining_json
     * @param {boolean} seal
     * @returns {string}
     */
    admit(joining_json, seal) {
        let deferred4_0;
        let deferred4_1;
        try {
            const val2 = +seal;
            const ptr0 = passStringToWasm0(joining_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.call_admit(this.__wbg_ptr, ptr0, len0, val2);
            var ptr3 = ret[0];
            var len3 = ret[1];
            if (ret[3]) {
                ptr3 = 0; len3 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred4_0 = ptr3;
            deferred4_1 = len3;
            return getStringFromWasm0(ptr3, len3);
        } finally {
            wasm.__wbindgen_free(deferred4_0, deferred4_1, 1);
        }
    }
    /**
     * The current epoch, or `undefined` before the call is keyed.
     * @returns {number | undefined}
     */
    get epoch() {
        const ret = wasm.call_epoch(this.__wbg_ptr);
        return ret === Number.MAX_SAFE_INTEGER ? undefined : ret;
    }
    /**
     * Joins from the key package sealed for this device and the epoch's roster.
     * @param {string} package_json
     * @param {string} roster_json
     * @param {bigint} now
     */
    join(package_json, roster_json, now) {
        const val3 = BigInt.asIntN(64, now);
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passStringToWasm0(package_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passStringToWasm0(roster_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.call_join(this.__wbg_ptr, ptr0, len0, ptr1, len1, val3);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Whether the periodic fresh epoch is due at `now` (Unix seconds).
     * @param {bigint} now
     * @returns {boolean}
     */
    needsRekey(now) {
        const ret = wasm.call_needsRekey(this.__wbg_ptr, now);
        return ret !== 0;
    }
    /**
     * A call on device `device_id` with `keys` (consumed: the private key moves into the call).
     * @param {DeviceKeys} keys
     * @param {string} session_id
     * @param {string} device_id
     * @param {number} suite
     */
    constructor(keys, session_id, device_id, suite) {
        const val4 = +suite;
        let ptr0, ptr1, len1, ptr2, len2;
        try {
            _assertClass(keys, DeviceKeys);
            ptr0 = keys.__destroy_into_raw();
            ptr1 = passStringToWasm0(session_id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len1 = WASM_VECTOR_LEN;
            ptr2 = passStringToWasm0(device_id, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            len2 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr2) { wasm.__wbindgen_free(ptr2, len2 * 1, 1); }
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) wasm.__wbg_devicekeys_free(ptr0, 1);
            throw e;
        }
        const ret = wasm.call_new(ptr0, ptr1, len1, ptr2, len2, val4);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        this.__wbg_ptr = ret[0];
        CallFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * Opens an SFrame frame; a refusal's message is one code (`unknown_key`, `decrypt`,
     * `replayed`, `too_old`, `stale_generation`, `generation_too_far_ahead`, `malformed`).
     * @param {Uint8Array | number[]} metadata
     * @param {Uint8Array | number[]} frame
     * @returns {Uint8Array}
     */
    open(metadata, frame) {
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passArray8ToWasm0(metadata, wasm.__wbindgen_malloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passArray8ToWasm0(frame, wasm.__wbindgen_malloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.call_open(this.__wbg_ptr, ptr0, len0, ptr1, len1);
        if (ret[3]) {
            throw takeFromExternrefTable0(ret[2]);
        }
        var v3 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        return v3;
    }
    /**
     * Ratchets this device's sender key one generation (RFC 9605 §5.1).
     */
    ratchetSender() {
        const ret = wasm.call_ratchetSender(this.__wbg_ptr);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * A fresh epoch with the same participants; returns the packages as JSON.
     * @param {bigint} now
     * @returns {string}
     */
    rekey(now) {
        let deferred2_0;
        let deferred2_1;
        try {
            const ret = wasm.call_rekey(this.__wbg_ptr, now);
            var ptr1 = ret[0];
            var len1 = ret[1];
            if (ret[3]) {
                ptr1 = 0; len1 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred2_0 = ptr1;
            deferred2_1 = len1;
            return getStringFromWasm0(ptr1, len1);
        } finally {
            wasm.__wbindgen_free(deferred2_0, deferred2_1, 1);
        }
    }
    /**
     * Removes `user`'s devices and starts a fresh epoch; returns the packages as JSON.
     * @param {string} user
     * @param {bigint} now
     * @returns {string}
     */
    removeUser(user, now) {
        let deferred4_0;
        let deferred4_1;
        try {
            const val2 = BigInt.asIntN(64, now);
            const ptr0 = passStringToWasm0(user, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.call_removeUser(this.__wbg_ptr, ptr0, len0, val2);
            var ptr3 = ret[0];
            var len3 = ret[1];
            if (ret[3]) {
                ptr3 = 0; len3 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred4_0 = ptr3;
            deferred4_1 = len3;
            return getStringFromWasm0(ptr3, len3);
        } finally {
            wasm.__wbindgen_free(deferred4_0, deferred4_1, 1);
        }
    }
    /**
     * Device ids of the current roster in sender-index order.
     * @returns {string[]}
     */
    rosterDevices() {
        const ret = wasm.call_rosterDevices(this.__wbg_ptr);
        var v1 = getArrayJsValueFromWasm0(ret[0], ret[1]);
        wasm.__wbindgen_free(ret[0], ret[1] * 4, 4);
        return v1;
    }
    /**
     * The current roster as JSON participants.
     * @returns {string}
     */
    rosterJson() {
        let deferred2_0;
        let deferred2_1;
        try {
            const ret = wasm.call_rosterJson(this.__wbg_ptr);
            var ptr1 = ret[0];
            var len1 = ret[1];
            if (ret[3]) {
                ptr1 = 0; len1 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred2_0 = ptr1;
            deferred2_1 = len1;
            return getStringFromWasm0(ptr1, len1);
        } finally {
            wasm.__wbindgen_free(deferred2_0, deferred2_1, 1);
        }
    }
    /**
     * The safety number of this device and another device's base64url public key.
     * @param {string} other
     * @returns {string}
     */
    safetyNumber(other) {
        let deferred3_0;
        let deferred3_1;
        try {
            const ptr0 = passStringToWasm0(other, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.call_safetyNumber(this.__wbg_ptr, ptr0, len0);
            var ptr2 = ret[0];
            var len2 = ret[1];
            if (ret[3]) {
                ptr2 = 0; len2 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred3_0 = ptr2;
            deferred3_1 = len2;
            return getStringFromWasm0(ptr2, len2);
        } finally {
            wasm.__wbindgen_free(deferred3_0, deferred3_1, 1);
        }
    }
    /**
     * Seals an encoded frame; returns `header || ciphertext || tag`.
     * @param {Uint8Array | number[]} metadata
     * @param {Uint8Array | number[]} frame
     * @returns {Uint8Array}
     */
    seal(metadata, frame) {
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passArray8ToWasm0(metadata, wasm.__wbindgen_malloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passArray8ToWasm0(frame, wasm.__wbindgen_malloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.call_seal(this.__wbg_ptr, ptr0, len0, ptr1, len1);
        if (ret[3]) {
            throw takeFromExternrefTable0(ret[2]);
        }
        var v3 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        return v3;
    }
    /**
     * The KID this device seals under, or `undefined` before the call is keyed.
     * @returns {bigint | undefined}
     */
    get senderKid() {
        const ret = wasm.call_senderKid(this.__wbg_ptr);
        return ret[0] === 0 ? undefined : BigInt.asUintN(64, ret[1]);
    }
    /**
     * First device in: epoch 0, then a join ratchet with the others of `roster_json`; returns
     * their key packages as JSON.
     * @param {string} roster_json
     * @param {bigint} now
     * @returns {string}
     */
    start(roster_json, now) {
        let deferred4_0;
        let deferred4_1;
        try {
            const val2 = BigInt.asIntN(64, now);
            const ptr0 = passStringToWasm0(roster_json, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.call_start(this.__wbg_ptr, ptr0, len0, val2);
            var ptr3 = ret[0];
            var len3 = ret[1];
            if (ret[3]) {
                ptr3 = 0; len3 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred4_0 = ptr3;
            deferred4_1 = len3;
            return getStringFromWasm0(ptr3, len3);
        } finally {
            wasm.__wbindgen_free(deferred4_0, deferred4_1, 1);
        }
    }
}
if (Symbol.dispose) Call.prototype[Symbol.dispose] = Call.prototype.free;

/**
 * A device's X25519 key pair for HPKE, generated from `crypto.getRandomValues`.
 */
export class DeviceKeys {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        DeviceKeysFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_devicekeys_free(ptr, 0);
    }
    /**
     * Four groups of five digits identifying the public key.
     * @returns {string}
     */
    fingerprint() {
        let deferred1_0;
        let deferred1_1;
        try {
            const ret = wasm.devicekeys_fingerprint(this.__wbg_ptr);
            deferred1_0 = ret[0];
            deferred1_1 = ret[1];
            return getStringFromWasm0(ret[0], ret[1]);
        } finally {
            wasm.__wbindgen_free(deferred1_0, deferred1_1, 1);
        }
    }
    /**
     * A fresh key pair (RFC 9180 §7.1.3 from 32 random bytes).
     */
    constructor() {
        const ret = wasm.devicekeys_generate();
        this.__wbg_ptr = ret;
        DeviceKeysFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * The public key, unpadded base64url (what `POST …/devices` takes).
     * @returns {string}
     */
    get publicKey() {
        let deferred1_0;
        let deferred1_1;
        try {
            const ret = wasm.devicekeys_publicKey(this.__wbg_ptr);
            deferred1_0 = ret[0];
            deferred1_1 = ret[1];
            return getStringFromWasm0(ret[0], ret[1]);
        } finally {
            wasm.__wbindgen_free(deferred1_0, deferred1_1, 1);
        }
    }
    /**
     * The safety number of this key and another device's base64url public key.
     * @param {string} other
     * @returns {string}
     */
    safetyNumber(other) {
        let deferred3_0;
        let deferred3_1;
        try {
            const ptr0 = passStringToWasm0(other, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);
            const len0 = WASM_VECTOR_LEN;
            const ret = wasm.devicekeys_safetyNumber(this.__wbg_ptr, ptr0, len0);
            var ptr2 = ret[0];
            var len2 = ret[1];
            if (ret[3]) {
                ptr2 = 0; len2 = 0;
                throw takeFromExternrefTable0(ret[2]);
            }
            deferred3_0 = ptr2;
            deferred3_1 = len2;
            return getStringFromWasm0(ptr2, len2);
        } finally {
            wasm.__wbindgen_free(deferred3_0, deferred3_1, 1);
        }
    }
}
if (Symbol.dispose) DeviceKeys.prototype[Symbol.dispose] = DeviceKeys.prototype.free;

/**
 * What an SFrame header says (RFC 9605 §4.3), with the KID split as phivault lays it out.
 */
export class FrameInfo {
    static __wrap(ptr) {
        const obj = Object.create(FrameInfo.prototype);
        obj.__wbg_ptr = ptr;
        FrameInfoFinalization.register(obj, obj.__wbg_ptr, obj);
        return obj;
    }
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        FrameInfoFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_frameinfo_free(ptr, 0);
    }
    /**
     * The frame counter (a `Number`: exact up to 2^53 frames).
     * @returns {number}
     */
    get ctr() {
        const ret = wasm.__wbg_get_frameinfo_ctr(this.__wbg_ptr);
        return ret;
    }
    /**
     * The epoch the frame's key belongs to.
     * @returns {number}
     */
    get epoch() {
        const ret = wasm.__wbg_get_frameinfo_epoch(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * The sender's ratchet generation.
     * @returns {number}
     */
    get generation() {
        const ret = wasm.__wbg_get_frameinfo_generation(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * Header length in bytes.
     * @returns {number}
     */
    get headerLen() {
        const ret = wasm.__wbg_get_frameinfo_headerLen(this.__wbg_ptr);
        return ret >>> 0;
    }
    /**
     * The sender's index in that epoch's roster.
     * @returns {number}
     */
    get senderIndex() {
        const ret = wasm.__wbg_get_frameinfo_senderIndex(this.__wbg_ptr);
        return ret;
    }
    /**
     * The frame counter (a `Number`: exact up to 2^53 frames).
     * @param {number} arg0
     */
    set ctr(arg0) {
        wasm.__wbg_set_frameinfo_ctr(this.__wbg_ptr, arg0);
    }
    /**
     * The epoch the frame's key belongs to.
     * @param {number} arg0
     */
    set epoch(arg0) {
        wasm.__wbg_set_frameinfo_epoch(this.__wbg_ptr, arg0);
    }
    /**
     * The sender's ratchet generation.
     * @param {number} arg0
     */
    set generation(arg0) {
        wasm.__wbg_set_frameinfo_generation(this.__wbg_ptr, arg0);
    }
    /**
     * Header length in bytes.
     * @param {number} arg0
     */
    set headerLen(arg0) {
        wasm.__wbg_set_frameinfo_headerLen(this.__wbg_ptr, arg0);
    }
    /**
     * The sender's index in that epoch's roster.
     * @param {number} arg0
     */
    set senderIndex(arg0) {
        wasm.__wbg_set_frameinfo_senderIndex(this.__wbg_ptr, arg0);
    }
}
if (Symbol.dispose) FrameInfo.prototype[Symbol.dispose] = FrameInfo.prototype.free;

/**
 * An SFrame receiver with explicit base keys per key index, each with its replay window.
 */
export class Receiver {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        ReceiverFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_receiver_free(ptr, 0);
    }
    /**
     * Installs the generation-0 base key of `key_index`.
     * @param {bigint} key_index
     * @param {Uint8Array | number[]} base_key
     */
    addKey(key_index, base_key) {
        const val2 = BigInt.asIntN(64, key_index);
        const ptr0 = passArray8ToWasm0(base_key, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.receiver_addKey(this.__wbg_ptr, val2, ptr0, len0);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * An empty receiver.
     * @param {number} suite_id
     */
    constructor(suite_id) {
        const ret = wasm.receiver_new(suite_id);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        this.__wbg_ptr = ret[0];
        ReceiverFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * Opens a frame; errors carry the failure code as in [`Call::open`].
     * @param {Uint8Array | number[]} metadata
     * @param {Uint8Array | number[]} frame
     * @returns {Uint8Array}
     */
    open(metadata, frame) {
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passArray8ToWasm0(metadata, wasm.__wbindgen_malloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passArray8ToWasm0(frame, wasm.__wbindgen_malloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.receiver_open(this.__wbg_ptr, ptr0, len0, ptr1, len1);
        if (ret[3]) {
            throw takeFromExternrefTable0(ret[2]);
        }
        var v3 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        return v3;
    }
    /**
     * Erases the key of `key_index`.
     * @param {bigint} key_index
     * @returns {boolean}
     */
    removeKey(key_index) {
        const ret = wasm.receiver_removeKey(this.__wbg_ptr, key_index);
        return ret !== 0;
    }
}
if (Symbol.dispose) Receiver.prototype[Symbol.dispose] = Receiver.prototype.free;

/**
 * An SFrame sender with an explicit base key (RFC 9605 §4.4), for interoperability tests;
 * the page uses [`Call`], whose keys never reach JavaScript.
 */
export class Sender {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        SenderFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_sender_free(ptr, 0);
    }
    /**
     * The current KID (`key_index << 8 | generation`).
     * @returns {bigint}
     */
    get kid() {
        const ret = wasm.sender_kid(this.__wbg_ptr);
        return BigInt.asUintN(64, ret);
    }
    /**
     * A sender for `key_index` at generation 0.
     * @param {number} suite_id
     * @param {bigint} key_index
     * @param {Uint8Array | number[]} base_key
     */
    constructor(suite_id, key_index, base_key) {
        const val2 = +suite_id;
        const val3 = BigInt.asIntN(64, key_index);
        const ptr0 = passArray8ToWasm0(base_key, wasm.__wbindgen_malloc);
        const len0 = WASM_VECTOR_LEN;
        const ret = wasm.sender_new(val2, val3, ptr0, len0);
        if (ret[2]) {
            throw takeFromExternrefTable0(ret[1]);
        }
        this.__wbg_ptr = ret[0];
        SenderFinalization.register(this, this.__wbg_ptr, this);
        return this;
    }
    /**
     * One ratchet step (§5.1).
     */
    ratchet() {
        const ret = wasm.sender_ratchet(this.__wbg_ptr);
        if (ret[1]) {
            throw takeFromExternrefTable0(ret[0]);
        }
    }
    /**
     * Seals a frame.
     * @param {Uint8Array | number[]} metadata
     * @param {Uint8Array | number[]} frame
     * @returns {Uint8Array}
     */
    seal(metadata, frame) {
        let ptr0, len0, ptr1, len1;
        try {
            ptr0 = passArray8ToWasm0(metadata, wasm.__wbindgen_malloc);
            len0 = WASM_VECTOR_LEN;
            ptr1 = passArray8ToWasm0(frame, wasm.__wbindgen_malloc);
            len1 = WASM_VECTOR_LEN;
        } catch (e) {
            if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }
            if (ptr0) { wasm.__wbindgen_free(ptr0, len0 * 1, 1); }
            throw e;
        }
        const ret = wasm.sender_seal(this.__wbg_ptr, ptr0, len0, ptr1, len1);
        if (ret[3]) {
            throw takeFromExternrefTable0(ret[2]);
        }
        var v3 = getArrayU8FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 1, 1);
        return v3;
    }
}
if (Symbol.dispose) Sender.prototype[Symbol.dispose] = Sender.prototype.free;

/**
 * Parses the SFrame header at the start of `frame` (no key needed: the header is public);
 * `undefined` if the bytes cannot be a header or the KID is not phivault-shaped.
 * @param {Uint8Array | number[]} frame
 * @returns {FrameInfo | undefined}
 */
export function frameInfo(frame) {
    const ptr0 = passArray8ToWasm0(frame, wasm.__wbindgen_malloc);
    const len0 = WASM_VECTOR_LEN;
    const ret = wasm.frameInfo(ptr0, len0);
    return ret === 0 ? undefined : FrameInfo.__wrap(ret);
}
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_Error_208446807d0d1e30: function(arg0, arg1) {
            const ret = Error(getStringFromWasm0(arg0, arg1));
            return ret;
        },
        __wbg___wbindgen_throw_4c88d8bf264fd984: function(arg0, arg1) {
            throw new Error(getStringFromWasm0(arg0, arg1));
        },
        __wbg_getRandomValues_8b6f1f663e6f188d: function() { return handleError(function (arg0, arg1) {
            globalThis.crypto.getRandomValues(getArrayU8FromWasm0(arg0, arg1));
        }, arguments); },
        __wbindgen_generic_0000000000000001: function(arg0, arg1) {
            // Cast intrinsic for `Ref(String) -> Externref`.
            const ret = getStringFromWasm0(arg0, arg1);
            return ret;
        },
        __wbindgen_init_externref_table: function() {
            const table = wasm.__wbindgen_externrefs;
            table.set(0, undefined);
            table.set(1024, undefined);
            table.set(1025, null);
            table.set(1026, true);
            table.set(1027, false);
        },
    };
    return {
        __proto__: null,
        "./phivault_telehealth_wasm_bg.js": import0,
    };
}

const CallFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_call_free(ptr, 1));
const DeviceKeysFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_devicekeys_free(ptr, 1));
const FrameInfoFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_frameinfo_free(ptr, 1));
const ReceiverFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_receiver_free(ptr, 1));
const SenderFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_sender_free(ptr, 1));

function addToExternrefTable0(obj) {
    const idx = wasm.__externref_table_alloc();
    wasm.__wbindgen_externrefs.set(idx, obj);
    return idx;
}

function _assertClass(instance, klass) {
    if (!(instance instanceof klass)) {
        throw new Error(`expected instance of ${klass.name}`);
    }
}

function getArrayJsValueFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    const mem = getDataViewMemory0();
    const result = [];
    for (let i = ptr; i < ptr + 4 * len; i += 4) {
        result.push(wasm.__wbindgen_externrefs.get(mem.getUint32(i, true)));
    }
    wasm.__externref_drop_slice(ptr, len);
    return result;
}

function getArrayU8FromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return getUint8ArrayMemory0().subarray(ptr / 1, ptr / 1 + len);
}

let cachedDataViewMemory0 = null;
function getDataViewMemory0() {
    if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || (cachedDataViewMemory0.buffer.detached === undefined && cachedDataViewMemory0.buffer !== wasm.memory.buffer)) {
        cachedDataViewMemory0 = new DataView(wasm.memory.buffer);
    }
    return cachedDataViewMemory0;
}

function getStringFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
}

let cachedUint8ArrayMemory0 = null;
function getUint8ArrayMemory0() {
    if (cachedUint8ArrayMemory0 === null || cachedUint8ArrayMemory0.byteLength === 0) {
        cachedUint8ArrayMemory0 = new Uint8Array(wasm.memory.buffer);
    }
    return cachedUint8ArrayMemory0;
}

function handleError(f, args) {
    try {
        return f.apply(this, args);
    } catch (e) {
        const idx = addToExternrefTable0(e);
        wasm.__wbindgen_exn_store(idx);
    }
}

function isLikeNone(x) {
    return x === undefined || x === null;
}

function passArray8ToWasm0(arg, malloc) {
    const ptr = malloc(arg.length * 1, 1) >>> 0;
    getUint8ArrayMemory0().set(arg, ptr / 1);
    WASM_VECTOR_LEN = arg.length;
    return ptr;
}

function passStringToWasm0(arg, malloc, realloc) {
    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }

    let len = arg.length;
    let ptr = malloc(len, 1) >>> 0;

    const mem = getUint8ArrayMemory0();

    let offset = 0;

    for (; offset < len; offset++) {
        const code = arg.charCodeAt(offset);
        if (code > 0x7F) break;
        mem[ptr + offset] = code;
    }
    if (offset !== len) {
        if (offset !== 0) {
            arg = arg.slice(offset);
        }
        ptr = realloc(ptr, len, len = offset + arg.length * 3, 1) >>> 0;
        const view = getUint8ArrayMemory0().subarray(ptr + offset, ptr + len);
        const ret = cachedTextEncoder.encodeInto(arg, view);

        offset += ret.written;
        ptr = realloc(ptr, len, offset, 1) >>> 0;
    }

    WASM_VECTOR_LEN = offset;
    return ptr;
}

function takeFromExternrefTable0(idx) {
    const value = wasm.__wbindgen_externrefs.get(idx);
    wasm.__externref_table_dealloc(idx);
    return value;
}

let cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
cachedTextDecoder.decode();
const MAX_SAFARI_DECODE_BYTES = 2146435072;
let numBytesDecoded = 0;
function decodeText(bytes) {
    numBytesDecoded += bytes.length;
    if (numBytesDecoded >= MAX_SAFARI_DECODE_BYTES) {
        cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
        cachedTextDecoder.decode();
        numBytesDecoded = bytes.length;
    }
    return cachedTextDecoder.decode(bytes);
}

const cachedTextEncoder = new TextEncoder();

if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}

let WASM_VECTOR_LEN = 0;

let wasmModule, wasmInstance, wasm;
function __wbg_finalize_init(instance, module) {
    wasmInstance = instance;
    wasm = instance.exports;
    wasmModule = module;
    cachedDataViewMemory0 = null;
    cachedUint8ArrayMemory0 = null;
    wasm.__wbindgen_start();
    return wasm;
}

async function __wbg_load(module, imports) {
    if (typeof Response === 'function' && module instanceof Response) {
        if (!module.ok) {
            throw new Error(`failed to fetch Wasm: ${module.status} ${module.statusText} fetching '${module.url}'`);
        }

        if (typeof WebAssembly.instantiateStreaming === 'function') {
            try {
                return await WebAssembly.instantiateStreaming(module, imports);
            } catch (e) {
                const validResponse = expectedResponseType(module.type);

                if (validResponse && module.headers.get('Content-Type') !== 'application/wasm') {
                    console.warn("`WebAssembly.instantiateStreaming` failed because your server does not serve Wasm with `application/wasm` MIME type. Falling back to `WebAssembly.instantiate` which is slower. Original error:\n", e);

                } else { throw e; }
            }
        }

        const bytes = await module.arrayBuffer();
        return await WebAssembly.instantiate(bytes, imports);
    } else {
        const instance = await WebAssembly.instantiate(module, imports);

        if (instance instanceof WebAssembly.Instance) {
            return { instance, module };
        } else {
            return instance;
        }
    }

    function expectedResponseType(type) {
        switch (type) {
            case 'basic': case 'cors': case 'default': return true;
        }
        return false;
    }
}

function initSync(module) {
    if (wasm !== undefined) return wasm;


    if (module !== undefined) {
        if (Object.getPrototypeOf(module) === Object.prototype) {
            ({module} = module)
        } else {
            console.warn('using deprecated parameters for `initSync()`; pass a single object instead')
        }
    }

    const imports = __wbg_get_imports();
    if (!(module instanceof WebAssembly.Module)) {
        module = new WebAssembly.Module(module);
    }
    const instance = new WebAssembly.Instance(module, imports);
    return __wbg_finalize_init(instance, module);
}

let __wbg_init_promise;
async function __wbg_init(module_or_path) {
    if (wasm !== undefined) return wasm;
    if (__wbg_init_promise === undefined) {
        __wbg_init_promise = __wbg_init_once(module_or_path);
        __wbg_init_promise.catch(() => { __wbg_init_promise = undefined; });
    }
    return __wbg_init_promise;
}

async function __wbg_init_once(module_or_path) {

    if (module_or_path !== undefined) {
        if (Object.getPrototypeOf(module_or_path) === Object.prototype) {
            ({module_or_path} = module_or_path)
        } else {
            console.warn('using deprecated parameters for the initialization function; pass a single object instead')
        }
    }

    if (module_or_path === undefined) {
        module_or_path = new URL('phivault_telehealth_wasm_bg.wasm', import.meta.url);
    }
    const imports = __wbg_get_imports();

    if (typeof module_or_path === 'string' || (typeof Request === 'function' && module_or_path instanceof Request) || (typeof URL === 'function' && module_or_path instanceof URL)) {
        module_or_path = fetch(module_or_path);
    }

    const { instance, module } = await __wbg_load(await module_or_path, imports);

    return __wbg_finalize_init(instance, module);
}

export { initSync, __wbg_init as default };
