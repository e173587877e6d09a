//! Runs the fetch handler as a JS promise, polling its future right where it
//! is woken (a settled promise's callback, a timer's) instead of through
//! wasm-bindgen's executor, which queues every wake-up as a microtask and
//! enters the instance once more to poll. A request waits on the runtime two
//! or three times; each such hop costs about as much as the work it resumes.
//!
//! Wakers carry only the task's key, so they are plain `Send + Sync` values;
//! the task itself lives in a thread-local map (the instance is single
//! threaded).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use wasm_bindgen::JsValue;

use crate::fnv::FnvBuild;

type Handler = Pin<Box<dyn Future<Output = JsValue>>>;

struct Task {
    future: RefCell<Option<Handler>>,
    /// The promise to resolve with the outcome; none for a spawned task.
    resolve: Option<js_sys::Function>,
    polling: Cell<bool>,
    woken: Cell<bool>,
    /// Cancelled while it was being polled: dropped after that poll.
    cancelled: Cell<bool>,
}

thread_local! {
    static TASKS: RefCell<HashMap<u32, Rc<Task>, FnvBuild>> = RefCell::new(HashMap::default());
    static NEXT_TASK: Cell<u32> = const { Cell::new(0) };
}

struct TaskWaker(u32);

thread_local! {
    /// Set while a JS callback (a settled promise, a timer) wakes its waiter.
    static FROM_JS: Cell<bool> = const { Cell::new(false) };
    /// Tasks being polled right now (nested when a poll wakes another task).
    static POLLING: Cell<u32> = const { Cell::new(0) };
    /// Tasks woken from inside Rust code, polled in a microtask.
    static DEFERRED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static DRAIN: wasm_bindgen::closure::Closure<dyn FnMut(JsValue)> =
        wasm_bindgen::closure::Closure::new(|_: JsValue| drain());
}

/// Wakes `waker` from a JS callback, where polling its task at once is safe:
/// no Rust frame below holds a lock or a borrow.
pub(crate) fn wake_from_js(waker: Waker) {
    FROM_JS.with(|f| f.set(true));
    waker.wake();
    FROM_JS.with(|f| f.set(false));
}

/// A wake-up from Rust code (a `Shared` future completing, a channel) may
/// come while its caller holds a lock the woken task takes too: that task is
/// polled in a microtask instead of inside the caller.
fn schedule(key: u32) {
    let direct = FROM_JS.with(Cell::get) && POLLING.with(Cell::get) == 0;
    if direct {
        run(key);
        return;
    }
    let first = DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        d.push(key);
        d.len() == 1
    });
    if first {
        DRAIN.with(|f| {
            let _ = js_sys::Promise::resolve(&JsValue::UNDEFINED).then(f);
        });
    }
}

fn drain() {
    let keys = DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()));
    for key in keys {
        run(key);
    }
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        schedule(self.0);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        schedule(self.0);
    }
}

/// A key no task has yet, for [`spawn`].
pub(crate) fn reserve_key() -> u32 {
    next_key(&NEXT_TASK)
}

/// The next of a counter's keys (tasks, settled promises, timers): each
/// kind has its own, wrapping after 2^32.
pub(crate) fn next_key(counter: &'static std::thread::LocalKey<Cell<u32>>) -> u32 {
    counter.with(|n| {
        let key = n.get();
        n.set(key.wrapping_add(1));
        key
    })
}

fn insert(key: u32, future: Handler, resolve: Option<js_sys::Function>) {
    let task = Rc::new(Task {
        future: RefCell::new(Some(future)),
        resolve,
        polling: Cell::new(false),
        woken: Cell::new(false),
        cancelled: Cell::new(false),
    });
    TASKS.with(|t| t.borrow_mut().insert(key, task));
}

/// A promise of what `future` resolves to; it is first polled right away.
pub(crate) fn promise(future: impl Future<Output = JsValue> + 'static) -> js_sys::Promise {
    start(Box::pin(future), run)
}

/// Like [`promise`], but first polled in a microtask when asked from
/// inside a poll (work deferred past the response must not run inside the
/// code that defers it, which may hold what it takes).
pub(crate) fn deferred_promise(future: impl Future<Output = JsValue> + 'static) -> js_sys::Promise {
    start(Box::pin(future), schedule)
}

fn start(future: Handler, first_poll: fn(u32)) -> js_sys::Promise {
    let key = reserve_key();
    let mut future = Some(future);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(future) = future.take() {
            insert(key, future, Some(resolve));
        }
    });
    first_poll(key);
    promise
}

/// Runs `future` under `key` (from [`reserve_key`]) with no promise to
/// resolve; it is first polled right away.
pub(crate) fn spawn(key: u32, future: impl Future<Output = ()> + 'static) {
    insert(
        key,
        Box::pin(async move {
            future.await;
            JsValue::UNDEFINED
        }),
        None,
    );
    run(key);
}

/// Drops task `key` unfinished (a response body whose consumer went away).
pub(crate) fn cancel(key: u32) {
    let Some(task) = TASKS.with(|t| t.borrow().get(&key).cloned()) else {
        return;
    };
    if task.polling.get() {
        task.cancelled.set(true);
        return;
    }
    TASKS.with(|t| t.borrow_mut().remove(&key));
    // Dropped here, outside any borrow: its `Drop`s may call into JS.
    let future = task.future.borrow_mut().take();
    drop(future);
}

/// Polls the task until it is pending without a new wake-up, or done. A
/// wake-up during its own poll (a future that yields) is noted and polled
/// again after it, not from inside it.
fn run(key: u32) {
    let Some(task) = TASKS.with(|t| t.borrow().get(&key).cloned()) else {
        return;
    };
    if task.polling.replace(true) {
        task.woken.set(true);
        return;
    }
    let waker = Waker::from(Arc::new(TaskWaker(key)));
    let mut cx = Context::from_waker(&waker);
    POLLING.with(|p| p.set(p.get() + 1));
    loop {
        task.woken.set(false);
        let outcome = {
            let mut slot = task.future.borrow_mut();
            let Some(future) = slot.as_mut() else {
                break;
            };
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(value) => {
                    *slot = None;
                    Some(value)
                }
                Poll::Pending => None,
            }
        };
        if let Some(value) = outcome {
            TASKS.with(|t| t.borrow_mut().remove(&key));
            if let Some(resolve) = &task.resolve {
                let _ = resolve.call1(&JsValue::UNDEFINED, &value);
            }
            break;
        }
        if task.cancelled.get() {
            TASKS.with(|t| t.borrow_mut().remove(&key));
            let future = task.future.borrow_mut().take();
            drop(future);
            break;
        }
        if !task.woken.get() {
            break;
        }
    }
    POLLING.with(|p| p.set(p.get() - 1));
    task.polling.set(false);
}
