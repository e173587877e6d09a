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
    resolve: js_sys::Function,
    polling: Cell<bool>,
    woken: Cell<bool>,
}

thread_local! {
    static TASKS: RefCell<HashMap<u32, Rc<Task>, FnvBuild>> = RefCell::new(HashMap::default());
    static NEXT_TASK: Cell<u32> = const { Cell::new(0) };
}

struct TaskWaker(u32);

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        run(self.0);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        run(self.0);
    }
}

/// A promise of what `future` resolves to; it is first polled right away.
pub(crate) fn promise(future: impl Future<Output = JsValue> + 'static) -> js_sys::Promise {
    let key = NEXT_TASK.with(|n| {
        let key = n.get();
        n.set(key.wrapping_add(1));
        key
    });
    let mut future = Some(Box::pin(future) as Handler);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let task = Rc::new(Task {
            future: RefCell::new(future.take()),
            resolve,
            polling: Cell::new(false),
            woken: Cell::new(false),
        });
        TASKS.with(|t| t.borrow_mut().insert(key, task));
    });
    run(key);
    promise
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
            let _ = task.resolve.call1(&JsValue::UNDEFINED, &value);
            break;
        }
        if !task.woken.get() {
            break;
        }
    }
    task.polling.set(false);
}
