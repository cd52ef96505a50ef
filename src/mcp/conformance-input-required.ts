import {
  acceptedContent,
  CLIENT_CAPABILITIES_META_KEY,
  inputRequired,
  inputResponse,
  type InputRequest,
  type InputRequests,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Permission } from '../core/permissions.js';
import { defineTool, type ToolDefinition } from './toolset.js';

/** A retried request's answers (`ctx.mcpReq.inputResponses`), as the client sent them. */
type Responses = Record<string, unknown> | undefined;

const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

// What the client answers is untrusted: every answer is read through one of these schemas, and an
// answer that does not fit is asked for again, never used.
const NAME = z.object({ name: z.string().max(200) });
const COLOR = z.object({ color: z.string().max(200) });
const CONFIRM = z.object({ ok: z.boolean() });
const SAMPLED_TEXT = z.object({ content: z.object({ type: z.literal('text'), text: z.string().max(10_000) }) });
const ROOTS = z.array(z.object({ uri: z.string().max(2048), name: z.string().max(200).optional() })).max(100);

const askName = (message = 'What is your name?'): InputRequest =>
  inputRequired.elicit({ message, requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } });
const askConfirmation = (): InputRequest =>
  inputRequired.elicit({
    message: 'Please confirm',
    requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
  });
const askSampling = (prompt: string, maxTokens: number): InputRequest =>
  inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens });

/** The text of a sampling answer, or undefined when there is none or it is not text. */
function sampledText(responses: Responses, key: string): string | undefined {
  const view = inputResponse(responses, key);
  if (view.kind !== 'sampling') return undefined;
  const parsed = SAMPLED_TEXT.safeParse(view.result);
  return parsed.success ? parsed.data.content.text : undefined;
}

/** The roots of a roots answer, or undefined when there is none or it is malformed. */
function listedRoots(responses: Responses, key: string): z.infer<typeof ROOTS> | undefined {
  const view = inputResponse(responses, key);
  if (view.kind !== 'roots') return undefined;
  const parsed = ROOTS.safeParse(view.roots);
  return parsed.success ? parsed.data : undefined;
}

/** What the multi-step tools seal into their request state: the step already proven. */
interface StepState {
  step: string;
  name?: string;
}
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
const isStep = (state: StepState | undefined, step: string): state is StepState => state?.step === step;

/**
 * The tools of the suite's 2026-07-28 `input_required` scenarios (SEP-2322).
 * Each is written once for every round: it reads what the retried request
 * carries, validates it, and asks again for what is missing or malformed.
 * Request state goes only through `mintState`/`state()` (sealed, bound to the
 * principal and the tool) and records only what an earlier round proved. On a
 * 2025 session the SDK's shim turns the same results into server-to-client
 * requests.
 */
export function inputRequiredTools(): ToolDefinition[] {
  const call = Permission.ToolsCall;
  return [
    defineTool({
      name: 'test_input_required_result_elicitation',
      description: 'Asks the client, by an input_required result, for the caller name.',
      permission: call,
      inputSchema: {},
      run: (_args, { ctx }) => {
        const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', NAME);
        if (!answer) return inputRequired({ inputRequests: { user_name: askName() } });
        return text(`Hello, ${answer.name}!`);
      },
    }),
    defineTool({
      name: 'test_input_required_result_sampling',
      description: 'Asks the client, by an input_required result, to sample an LLM.',
      permission: call,
      inputSchema: {},
      run: (_args, { ctx }) => {
        const answer = sampledText(ctx.mcpReq.inputResponses, 'capital_question');
        if (answer === undefined) {
          return inputRequired({ inputRequests: { capital_question: askSampling('What is the capital of France?', 100) } });
        }
        return text(`Sampling response: ${answer}`);
      },
    }),
    defineTool({
      name: 'test_input_required_result_list_roots',
      description: 'Asks the client, by an input_required result, for its roots.',
      permission: call,
      inputSchema: {},
      run: (_args, { ctx }) => {
        const roots = listedRoots(ctx.mcpReq.inputResponses, 'client_roots');
        if (!roots) return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
        return text(`Client exposed ${roots.length} root(s): ${roots.map((root) => root.uri).join(', ')}`);
      },
    }),
    defineTool({
      name: 'test_input_required_result_request_state',
      description: 'Asks for a confirmation with sealed request state, and completes only with both back.',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx, state, mintState }) => {
        const confirmed = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', CONFIRM);
        if (!confirmed || !isStep(state<StepState>(), 'confirm')) {
          return inputRequired({ inputRequests: { confirm: askConfirmation() }, requestState: await mintState({ step: 'confirm' }) });
        }
        return text(`state-ok: the request state was verified, confirmation ${confirmed.ok ? 'given' : 'refused'}`);
      },
    }),
    defineTool({
      name: 'test_input_required_result_multiple_inputs',
      description: 'Asks for an elicitation, a sampling and the roots in one round.',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx, state, mintState }) => {
        const responses = ctx.mcpReq.inputResponses;
        const name = acceptedContent(responses, 'user_name', NAME);
        const greeting = sampledText(responses, 'greeting');
        const roots = listedRoots(responses, 'client_roots');
        const asked = isStep(state<StepState>(), 'inputs');
        if (asked && name && greeting !== undefined && roots) {
          return text(`${greeting} ${name.name}: ${roots.length} root(s) visible`);
        }
        // Ask again for whatever is still missing (everything when the state did not come back).
        const inputRequests: InputRequests = {};
        if (!asked || !name) inputRequests.user_name = askName();
        if (!asked || greeting === undefined) inputRequests.greeting = askSampling('Generate a greeting', 50);
        if (!asked || !roots) inputRequests.client_roots = inputRequired.listRoots();
        return inputRequired({ inputRequests, requestState: await mintState({ step: 'inputs' }) });
      },
    }),
    defineTool({
      name: 'test_input_required_result_multi_round',
      description: 'Asks for a name, then (with new request state) for a color, then completes.',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx, state, mintState }) => {
        const sealed = state<StepState>();
        const responses = ctx.mcpReq.inputResponses;
        // The state records the name only once it was answered; the color step trusts nothing else.
        const askColor = async (name: string) =>
          inputRequired({
            inputRequests: {
              step2: inputRequired.elicit({
                message: 'Step 2: What is your favorite color?',
                requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] },
              }),
            },
            requestState: await mintState({ step: 'color', name } satisfies StepState),
          });
        if (isStep(sealed, 'color')) {
          const color = acceptedContent(responses, 'step2', COLOR);
          return color ? text(`Multi-round complete: ${sealed.name ?? ''} likes ${color.color}`) : askColor(sealed.name ?? '');
        }
        const name = isStep(sealed, 'name') ? acceptedContent(responses, 'step1', NAME) : undefined;
        if (name) return askColor(name.name);
        return inputRequired({
          inputRequests: { step1: askName('Step 1: What is your name?') },
          requestState: await mintState({ step: 'name' } satisfies StepState),
        });
      },
    }),
    defineTool({
      name: 'test_input_required_result_tampered_state',
      description: 'Completes only when its sealed request state comes back intact (an altered one is refused).',
      permission: call,
      inputSchema: {},
      run: async (_args, { ctx, state, mintState }) => {
        if (isStep(state<StepState>(), 'confirm') && acceptedContent(ctx.mcpReq.inputResponses, 'confirm', CONFIRM)) {
          return text('integrity-ok: the request state was verified');
        }
        return inputRequired({ inputRequests: { confirm: askConfirmation() }, requestState: await mintState({ step: 'confirm' }) });
      },
    }),
    defineTool({
      name: 'test_input_required_result_capabilities',
      description: 'Asks only for the kinds of input the request declares client capabilities for.',
      permission: call,
      inputSchema: {},
      run: (_args, { ctx }) => {
        // What the request's envelope declares; a capability counts when it is an object, as the schema says.
        const declared = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY];
        const has = (name: string) => isObject(declared) && isObject(declared[name]);
        const responses = ctx.mcpReq.inputResponses;
        const inputRequests: InputRequests = {};
        if (has('elicitation') && !acceptedContent(responses, 'user_name', NAME)) inputRequests.user_name = askName();
        if (has('sampling') && sampledText(responses, 'greeting') === undefined)
          inputRequests.greeting = askSampling('Generate a short greeting', 50);
        if (has('roots') && !listedRoots(responses, 'client_roots')) inputRequests.client_roots = inputRequired.listRoots();
        if (Object.keys(inputRequests).length > 0) return inputRequired({ inputRequests });
        return text('Every input the declared client capabilities allow was answered (or none was declared)');
      },
    }),
  ];
}

/**
 * The prompt of the suite's non-tool `input_required` scenario: `prompts/get`
 * asks for a context by elicitation before it renders.
 */
export function renderInputRequiredPrompt(responses: Responses) {
  const answer = acceptedContent(responses, 'user_context', z.object({ context: z.string().max(2000) }));
  if (!answer) {
    return inputRequired({
      inputRequests: {
        user_context: inputRequired.elicit({
          message: 'What context should the prompt use?',
          requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] },
        }),
      },
    });
  }
  return {
    messages: [{ role: 'user' as const, content: { type: 'text' as const, text: `Use the following context: ${answer.context}` } }],
  };
}
