/*
 * wake.c
 *		Wake-ups of the database's background worker, asked for by code that
 *		must not depend on the worker (see wake.h).  Backend-local state only.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"

#include "wake.h"

static DpWakeFunction wake_fn = NULL;
static bool wake_at_commit = false;
static bool xact_callback_registered = false;

void
dp_wake_register(DpWakeFunction fn)
{
	wake_fn = fn;
}

bool
dp_wake_available(void)
{
	return wake_fn != NULL;
}

void
dp_wake_now(Oid dboid)
{
	if (wake_fn)
		wake_fn(dboid);
}

static void
wake_xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		dp_wake_now(MyDatabaseId);
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		wake_at_commit = false;
}

void
dp_wake_at_commit(void)
{
	if (wake_fn == NULL)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
}
