/*
 * Strategic merge patch on a schema modelled on Kubernetes' own strategic-merge test schema
 * (k8s.io/apimachinery/pkg/util/strategicpatch: "mergeItem"), with cases of the kinds its tests
 * cover: maps, merging lists of maps and of primitives, directives, element order, retainKeys,
 * fields the schema does not know, and the error texts Kubernetes returns.
 */
#include <stdio.h>
#include <time.h>

#include <korch/common.h>
#include "api/patch.h"
#include "base/macro.h"
#include "base/util.h"
#include "patch-test.h"

static const struct schema_type t_string = { .kind = SCHEMA_STRING };
static const struct schema_type t_int = { .kind = SCHEMA_INTEGER, .format = "int64" };
static const struct schema_type t_string_map = { .kind = SCHEMA_MAP, .elem = &t_string };
static const struct schema_type merge_item;

static const struct schema_type merging_list = {
	.kind = SCHEMA_ARRAY,
	.elem = &merge_item,
	.patch_strategy = SCHEMA_PATCH_MERGE,
	.merge_key = "name",
};
static const struct schema_type non_merging_list = { .kind = SCHEMA_ARRAY, .elem = &merge_item };
static const struct schema_type merging_int_list = {
	.kind = SCHEMA_ARRAY,
	.elem = &t_int,
	.patch_strategy = SCHEMA_PATCH_MERGE,
};
static const struct schema_type non_merging_int_list = { .kind = SCHEMA_ARRAY, .elem = &t_int };
/* A merge strategy without a merge key: Kubernetes refuses to merge such lists of maps. */
static const struct schema_type merging_list_without_key = {
	.kind = SCHEMA_ARRAY,
	.elem = &merge_item,
	.patch_strategy = SCHEMA_PATCH_MERGE,
};
static const struct schema_type retain_keys_merging_list = {
	.kind = SCHEMA_ARRAY,
	.elem = &merge_item,
	.patch_strategy = SCHEMA_PATCH_MERGE | SCHEMA_PATCH_RETAIN_KEYS,
	.merge_key = "name",
};

static const struct schema_field retain_keys_item_fields[] = {
	{ "mergingIntList", &merging_int_list, false },
	{ "name", &t_string, false },
	{ "other", &t_string, false },
	{ "simpleMap", &t_string_map, false },
	{ "value", &t_string, false },
};
static const struct schema_type retain_keys_item = {
	.name = "retainKeysMergeItem",
	.kind = SCHEMA_OBJECT,
	.fields = retain_keys_item_fields,
	.n_fields = ARRAY_SIZE(retain_keys_item_fields),
	.patch_strategy = SCHEMA_PATCH_RETAIN_KEYS,
};

/* Fields sorted by name, as schema.h requires. */
static const struct schema_field merge_item_fields[] = {
	{ "mergeItemPtr", &merging_list, false },
	{ "mergingIntList", &merging_int_list, false },
	{ "mergingList", &merging_list, false },
	{ "mergingListWithoutKey", &merging_list_without_key, false },
	{ "name", &t_string, false },
	{ "nonMergingIntList", &non_merging_int_list, false },
	{ "nonMergingList", &non_merging_list, false },
	{ "other", &t_string, false },
	{ "retainKeysMap", &retain_keys_item, false },
	{ "retainKeysMergingList", &retain_keys_merging_list, false },
	{ "simpleMap", &t_string_map, false },
	{ "value", &t_string, false },
};
static const struct schema_type merge_item = {
	.name = "mergeItem",
	.kind = SCHEMA_OBJECT,
	.fields = merge_item_fields,
	.n_fields = ARRAY_SIZE(merge_item_fields),
};

/* A case: original and patch in, the result (or, when result is NULL, the error) out. */
struct scase {
	const char *name;     /* test name */
	const char *original; /* JSON, ' for " */
	const char *patch;    /* JSON, ' for " */
	const char *result;   /* expected document, or NULL */
	const char *error;    /* expected message when result is NULL */
};

static const struct scase map_cases[] = {
	{ "add field", "{'name':'a'}", "{'value':'1'}", "{'name':'a','value':'1'}" },
	{ "null deletes field", "{'name':'a','value':'1'}", "{'value':null}", "{'name':'a'}" },
	{ "null for absent field", "{'name':'a'}", "{'other':null}", "{'name':'a'}" },
	{ "merge nested map", "{'simpleMap':{'k1':'1','k2':'2'}}",
	  "{'simpleMap':{'k2':'3','k3':'4','k1':null}}", "{'simpleMap':{'k2':'3','k3':'4'}}" },
	{ "delete nested map", "{'name':'a','simpleMap':{'k1':'1'}}",
	  "{'simpleMap':{'$patch':'delete'}}", "{'name':'a','simpleMap':{}}" },
	{ "replace whole map", "{'name':'a','value':'1'}", "{'$patch':'replace','other':'x'}",
	  "{'other':'x'}" },
	{ "replace with empty map", "{'name':'a'}", "{'$patch':'replace'}", "{}" },
	{ "delete at the root", "{'name':'a'}", "{'$patch':'delete'}", "{}" },
	{ "new map drops nulls", "{}", "{'simpleMap':{'k1':null,'k2':'2'}}",
	  "{'simpleMap':{'k2':'2'}}" },
	{ "new map of nulls only", "{}", "{'simpleMap':{'k1':null}}", "{'simpleMap':{}}" },
	{ "type change replaces", "{'simpleMap':{'k':'v'}}", "{'simpleMap':'flat'}",
	  "{'simpleMap':'flat'}" },
	{ "null in original kept", "{'other':null}", "{'name':'a'}", "{'other':null,'name':'a'}" },
	{ "null patch changes nothing", "{'name':'a'}", "null", "{'name':'a'}" },
	{ "unknown map field merges", "{'extra':{'a':1}}", "{'extra':{'b':2}}",
	  "{'extra':{'a':1,'b':2}}" },
	{ "unknown list field replaced", "{'extra':[1,2]}", "{'extra':[3]}", "{'extra':[3]}" },
	{ "unknown list of maps replaced", "{'extra':[{'name':'a','x':1}]}",
	  "{'extra':[{'name':'a','y':2}]}", "{'extra':[{'name':'a','y':2}]}" },
	{ "new value loses directives", "{}",
	  "{'extra':[{'name':'a','$patch':'delete'},{'name':'b','sub':{'$patch':'replace'}}]}",
	  "{'extra':[{'name':'b'}]}" },
	{ "nulls kept in new primitive list", "{}", "{'extra':['a',null]}",
	  "{'extra':['a',null]}" },
};

static const struct scase list_cases[] = {
	{ "new item goes first", "{'mergingList':[{'name':'1'},{'name':'2','value':'2'}]}",
	  "{'mergingList':[{'name':'3','value':'3'}]}",
	  "{'mergingList':[{'name':'3','value':'3'},{'name':'1'},{'name':'2','value':'2'}]}" },
	{ "merge into item", "{'mergingList':[{'name':'1','value':'a'}]}",
	  "{'mergingList':[{'name':'1','other':'b'}]}",
	  "{'mergingList':[{'name':'1','value':'a','other':'b'}]}" },
	{ "change item keeps order", "{'mergingList':[{'name':'1','value':'a'},{'name':'2'}]}",
	  "{'mergingList':[{'name':'1','value':'b'}]}",
	  "{'mergingList':[{'name':'1','value':'b'},{'name':'2'}]}" },
	{ "null deletes item field", "{'mergingList':[{'name':'1','value':'a','other':'o'}]}",
	  "{'mergingList':[{'name':'1','value':null}]}",
	  "{'mergingList':[{'name':'1','other':'o'}]}" },
	{ "delete item", "{'mergingList':[{'name':'1'},{'name':'2'},{'name':'3'}]}",
	  "{'mergingList':[{'name':'2','$patch':'delete'}]}",
	  "{'mergingList':[{'name':'1'},{'name':'3'}]}" },
	{ "delete missing item", "{'mergingList':[{'name':'1'}]}",
	  "{'mergingList':[{'name':'9','$patch':'delete'}]}", "{'mergingList':[{'name':'1'}]}" },
	{ "delete every duplicate",
	  "{'mergingList':[{'name':'1'},{'name':'1'},{'name':'2','value':'a'},{'name':'3'},"
	  "{'name':'3'}]}",
	  "{'mergingList':[{'name':'1','$patch':'delete'},{'name':'3','$patch':'delete'}]}",
	  "{'mergingList':[{'name':'2','value':'a'}]}" },
	{ "add and delete", "{'mergingList':[{'name':'1'},{'name':'2'}]}",
	  "{'mergingList':[{'name':'3'},{'name':'1','$patch':'delete'}]}",
	  "{'mergingList':[{'name':'3'},{'name':'2'}]}" },
	{ "replace list", "{'mergingList':[{'name':'1'},{'name':'2'}]}",
	  "{'mergingList':[{'name':'3','value':'x'},{'$patch':'replace'}]}",
	  "{'mergingList':[{'name':'3','value':'x'}]}" },
	{ "replace with nothing", "{'mergingList':[{'name':'1'}]}",
	  "{'mergingList':[{'$patch':'replace'}]}", "{'mergingList':[]}" },
	{ "empty lists", "{'mergingList':[]}", "{'mergingList':[]}", "{'mergingList':[]}" },
	{ "patch order wins",
	  "{'mergingList':[{'name':'1'},{'name':'2','value':'b'},{'name':'3'}]}",
	  "{'mergingList':[{'name':'3','value':'c'},{'name':'1','value':'a'},{'name':'2',"
	  "'other':'x'}]}",
	  "{'mergingList':[{'name':'3','value':'c'},{'name':'1','value':'a'},{'name':'2',"
	  "'value':'b','other':'x'}]}" },
	{ "server-only item keeps its place",
	  "{'mergingList':[{'name':'1'},{'name':'2','value':'b'},{'name':'3'}]}",
	  "{'mergingList':[{'name':'3','value':'c'},{'name':'1','value':'a'}]}",
	  "{'mergingList':[{'name':'2','value':'b'},{'name':'3','value':'c'},{'name':'1',"
	  "'value':'a'}]}" },
	{ "nested merging list",
	  "{'mergingList':[{'name':'1','mergingList':[{'name':'a','value':'1'}]}]}",
	  "{'mergingList':[{'name':'1','mergingList':[{'name':'a','other':'2'},{'name':'b'}]}]}",
	  "{'mergingList':[{'name':'1','mergingList':[{'name':'a','value':'1','other':'2'},"
	  "{'name':'b'}]}]}" },
	{ "nested non-merging list replaced",
	  "{'mergingList':[{'name':'1','nonMergingList':[{'name':'a'},{'name':'b'}]}]}",
	  "{'mergingList':[{'name':'1','nonMergingList':[{'name':'c'}]}]}",
	  "{'mergingList':[{'name':'1','nonMergingList':[{'name':'c'}]}]}" },
	{ "second merging list", "{'mergeItemPtr':[{'name':'1'}]}",
	  "{'mergeItemPtr':[{'name':'1','value':'v'},{'name':'2'}]}",
	  "{'mergeItemPtr':[{'name':'1','value':'v'},{'name':'2'}]}" },
	{ "duplicate patch items merge", "{'mergingList':[]}",
	  "{'mergingList':[{'name':'a','value':'1'},{'name':'a','other':'2'}]}",
	  "{'mergingList':[{'name':'a','value':'1','other':'2'}]}" },
	{ "new list taken without directives", "{}",
	  "{'mergingList':[{'name':'b'},{'name':'a','$patch':'delete'}]}",
	  "{'mergingList':[{'name':'b'}]}" },
	{ "non-merging list replaced", "{'nonMergingList':[{'name':'1'},{'name':'2'}]}",
	  "{'nonMergingList':[{'name':'3'}]}", "{'nonMergingList':[{'name':'3'}]}" },
};

static const struct scase primitive_cases[] = {
	{ "union", "{'mergingIntList':[1,2]}", "{'mergingIntList':[2,3]}",
	  "{'mergingIntList':[1,2,3]}" },
	{ "new value goes first", "{'mergingIntList':[1,2]}", "{'mergingIntList':[3]}",
	  "{'mergingIntList':[3,1,2]}" },
	{ "patch order wins", "{'mergingIntList':[1,2,3]}", "{'mergingIntList':[3,1,2]}",
	  "{'mergingIntList':[3,1,2]}" },
	{ "server-only value keeps its place", "{'mergingIntList':[1,2,3]}",
	  "{'mergingIntList':[3,1]}", "{'mergingIntList':[2,3,1]}" },
	/*
	 * Kubernetes' order here depends on whether Go's append reused the live list's storage
	 * (its capacity) when the live list holds duplicates; korch keeps first occurrences.
	 */
	{ "duplicates collapse", "{'mergingIntList':[1,1,2]}", "{'mergingIntList':[3]}",
	  "{'mergingIntList':[3,1,2]}" },
	{ "non-merging list replaced", "{'nonMergingIntList':[1,2]}", "{'nonMergingIntList':[3]}",
	  "{'nonMergingIntList':[3]}" },
	{ "delete value", "{'mergingIntList':[1,2,3]}",
	  "{'$deleteFromPrimitiveList/mergingIntList':[2]}", "{'mergingIntList':[1,3]}" },
	{ "delete every occurrence", "{'mergingIntList':[1,2,1]}",
	  "{'$deleteFromPrimitiveList/mergingIntList':[1]}", "{'mergingIntList':[2]}" },
	{ "delete absent value", "{'mergingIntList':[1,2]}",
	  "{'$deleteFromPrimitiveList/mergingIntList':[3]}", "{'mergingIntList':[1,2]}" },
	{ "delete from empty list", "{'mergingIntList':[]}",
	  "{'$deleteFromPrimitiveList/mergingIntList':[3]}", "{'mergingIntList':[]}" },
	{ "delete from absent list", "{'other':'x'}",
	  "{'$deleteFromPrimitiveList/mergingIntList':[3]}", "{'other':'x'}" },
	{ "delete from non-merging list", "{'nonMergingIntList':[1,2,3]}",
	  "{'$deleteFromPrimitiveList/nonMergingIntList':[2]}", "{'nonMergingIntList':[1,3]}" },
	{ "delete then add", "{'mergingIntList':[1,2,3]}",
	  "{'$deleteFromPrimitiveList/mergingIntList':[1],'mergingIntList':[4]}",
	  "{'mergingIntList':[4,2,3]}" },
};

static const struct scase order_cases[] = {
	{ "order with new items",
	  "{'mergingList':[{'name':'1','other':'a'},{'name':'2','value':'2','other':'b'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'4'},{'name':'1'},{'name':'2'},{'name':'3'}],"
	  "'mergingList':[{'name':'4','value':'4'},{'name':'3','value':'3'}]}",
	  "{'mergingList':[{'name':'4','value':'4'},{'name':'1','other':'a'},{'name':'2','value':"
	  "'2','other':'b'},{'name':'3','value':'3'}]}" },
	{ "reorder only", "{'mergingList':[{'name':'1','value':'a'},{'name':'2'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'2'},{'name':'1'}]}",
	  "{'mergingList':[{'name':'2'},{'name':'1','value':'a'}]}" },
	{ "server-only item last",
	  "{'mergingList':[{'name':'a','other':'x'},{'name':'c'},{'name':'d'},{'name':'b'},"
	  "{'name':'z'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'d'},{'name':'b'},{'name':'c'},{'name':'a'}]}",
	  "{'mergingList':[{'name':'d'},{'name':'b'},{'name':'c'},{'name':'a','other':'x'},"
	  "{'name':'z'}]}" },
	{ "server-only item in the middle",
	  "{'mergingList':[{'name':'a','other':'x'},{'name':'b'},{'name':'z'},{'name':'c'},"
	  "{'name':'d'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'b'},{'name':'a'},{'name':'d'},{'name':'c'}]}",
	  "{'mergingList':[{'name':'b'},{'name':'a','other':'x'},{'name':'z'},{'name':'d'},"
	  "{'name':'c'}]}" },
	{ "primitive order", "{'mergingIntList':[1,2,3]}",
	  "{'$setElementOrder/mergingIntList':[3,1,2]}", "{'mergingIntList':[3,1,2]}" },
	{ "primitive server-only value", "{'mergingIntList':[1,9,2,3]}",
	  "{'$setElementOrder/mergingIntList':[3,2,1]}", "{'mergingIntList':[9,3,2,1]}" },
	{ "order names an absent item", "{'mergingList':[{'name':'a'},{'name':'c'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'c'},{'name':'b'},{'name':'a'}],"
	  "'mergingList':[{'name':'c','value':'3'},{'name':'a','value':'1'}]}",
	  "{'mergingList':[{'name':'c','value':'3'},{'name':'a','value':'1'}]}" },
	{ "primitive order names an absent value", "{'mergingIntList':[1,3]}",
	  "{'$setElementOrder/mergingIntList':[3,2,1]}", "{'mergingIntList':[3,1]}" },
	{ "order for a new list", "{}",
	  "{'$setElementOrder/mergingList':[{'name':'b'},{'name':'a'}],"
	  "'mergingList':[{'name':'b','value':'1'},{'name':'a'}]}",
	  "{'mergingList':[{'name':'b','value':'1'},{'name':'a'}]}" },
	{ "delete and reorder",
	  "{'mergingList':[{'name':'a','value':'a'},{'name':'b','value':'b'}],"
	  "'mergeItemPtr':[{'name':'c','value':'c'},{'name':'d','value':'d'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'b'}],"
	  "'$setElementOrder/mergeItemPtr':[{'name':'d'},{'name':'c'}],"
	  "'mergingList':[{'$patch':'delete','name':'a'}]}",
	  "{'mergingList':[{'name':'b','value':'b'}],"
	  "'mergeItemPtr':[{'name':'d','value':'d'},{'name':'c','value':'c'}]}" },
	{ "replace an item beside a server-only one",
	  "{'mergingList':[{'name':'app','value':'1'},{'name':'injected'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'app2'}],"
	  "'mergingList':[{'name':'app2','value':'2'},{'$patch':'delete','name':'app'}]}",
	  "{'mergingList':[{'name':'injected'},{'name':'app2','value':'2'}]}" },
	{ "replace two items beside server-only ones",
	  "{'mergingList':[{'name':'x'},{'name':'a'},{'name':'y'},{'name':'b'},{'name':'z'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'d'},{'name':'c'},{'name':'e'}],"
	  "'mergingList':[{'$patch':'delete','name':'a'},{'name':'d'},{'name':'c'},"
	  "{'$patch':'delete','name':'b'},{'name':'e'}]}",
	  "{'mergingList':[{'name':'x'},{'name':'y'},{'name':'z'},{'name':'d'},{'name':'c'},"
	  "{'name':'e'}]}" },
	{ "order mismatch", "{'mergingList':[{'name':'1'},{'name':'3'},{'name':'2'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'1'},{'name':'2'},{'name':'3'}],"
	  "'mergingList':[{'name':'3','value':'3'},{'name':'1','value':'1'}]}",
	  NULL,
	  "The order in patch list:\n[map[name:3 value:3] map[name:1 value:1]]\n doesn't match "
	  "$setElementOrder list:\n[map[name:1] map[name:2] map[name:3]]\n" },
	{ "primitive order mismatch", "{'mergingIntList':[1,3,2]}",
	  "{'$setElementOrder/mergingIntList':[1,2,3],'mergingIntList':[3,1]}", NULL,
	  "The order in patch list:\n[3 1]\n doesn't match $setElementOrder list:\n[1 2 3]\n" },
	{ "order not a list", "{}", "{'$setElementOrder/mergingList':'x'}", NULL,
	  "expected a []interface {}, but received a string" },
	{ "malformed order key", "{}", "{'$setElementOrderX/mergingList':[]}", NULL,
	  "invalid patch format of setElementOrder list" },
	{ "order of nothing", "{'mergingList':[]}", "{'$setElementOrder/mergingList':[]}", NULL,
	  "no elements in any of the given slices" },
	{ "order of strings for maps", "{'mergingList':[{'name':'1'}]}",
	  "{'$setElementOrder/mergingList':['1']}", NULL, "value for key 0 is not a map" },
	{ "patch item not a map", "{'mergingList':[{'name':'1'}]}",
	  "{'$setElementOrder/mergingList':[{'name':'1'}],'mergingList':['x']}", NULL,
	  "expected a map[string]interface {}, but received a string" },
	{ "ordered field not a list", "{'mergingList':'x'}",
	  "{'$setElementOrder/mergingList':[{'name':'1'}]}", NULL,
	  "expected a []interface {}, but received a string" },
};

static const struct scase retain_cases[] = {
	{ "clears unlisted fields", "{'retainKeysMap':{'name':'foo','other':'a'}}",
	  "{'retainKeysMap':{'$retainKeys':['name','value'],'value':'bar'}}",
	  "{'retainKeysMap':{'name':'foo','value':'bar'}}" },
	{ "merges without the directive", "{'retainKeysMap':{'name':'foo'}}",
	  "{'retainKeysMap':{'value':'bar'}}", "{'retainKeysMap':{'name':'foo','value':'bar'}}" },
	{ "deletes and clears", "{'retainKeysMap':{'name':'foo','value':'v','other':'o'}}",
	  "{'retainKeysMap':{'$retainKeys':['name'],'value':null}}",
	  "{'retainKeysMap':{'name':'foo'}}" },
	{ "nested map kept and merged",
	  "{'retainKeysMap':{'name':'foo','simpleMap':{'a':'1'},'other':'x'}}",
	  "{'retainKeysMap':{'$retainKeys':['name','simpleMap'],'simpleMap':{'b':'2'}}}",
	  "{'retainKeysMap':{'name':'foo','simpleMap':{'a':'1','b':'2'}}}" },
	{ "nested merging list", "{'retainKeysMap':{'name':'foo','mergingIntList':[1,2]}}",
	  "{'retainKeysMap':{'$retainKeys':['mergingIntList','name'],"
	  "'$setElementOrder/mergingIntList':[1,2,3],'mergingIntList':[3]}}",
	  "{'retainKeysMap':{'name':'foo','mergingIntList':[1,2,3]}}" },
	{ "item of a merging list",
	  "{'retainKeysMergingList':[{'name':'bar'},{'name':'foo','value':'old','other':'x'}]}",
	  "{'$setElementOrder/retainKeysMergingList':[{'name':'bar'},{'name':'foo'}],"
	  "'retainKeysMergingList':[{'$retainKeys':['name','value'],'name':'foo','value':'new'}]}",
	  "{'retainKeysMergingList':[{'name':'bar'},{'name':'foo','value':'new'}]}" },
	{ "patch key not retained", "{'retainKeysMap':{'name':'a'}}",
	  "{'retainKeysMap':{'$retainKeys':['name'],'value':'x'}}", NULL,
	  "invalid patch format of retainKeys" },
	{ "directive not a list", "{'retainKeysMap':{'name':'a'}}",
	  "{'retainKeysMap':{'$retainKeys':'name'}}", NULL, "invalid patch format of retainKeys" },
};

static const struct scase error_cases[] = {
	{ "patch item without merge key", "{'mergingList':[{'name':'1','value':'a'}]}",
	  "{'mergingList':[{'value':'b'}]}", NULL,
	  "map: map[value:b] does not contain declared merge key: name" },
	{ "delete item without merge key", "{'mergingList':[{'name':'1'}]}",
	  "{'mergingList':[{'$patch':'delete','value':'b'}]}", NULL,
	  "map: map[$patch:delete value:b] does not contain declared merge key: name" },
	{ "server item without merge key", "{'mergingList':[{'value':'a'}]}",
	  "{'mergingList':[{'name':'1'}]}", NULL,
	  "map: map[value:a] does not contain declared merge key: name" },
	{ "values printed as Go prints them", "{'mergingList':[{'name':'1'}]}",
	  "{'mergingList':[{'value':1e6,'other':true,'x':null,'y':[1,'a',0.0001,1.5e-7],"
	  "'z':{'b':-2,'a':123456.0}}]}",
	  NULL,
	  "map: map[other:true value:1e+06 x:<nil> y:[1 a 0.0001 1.5e-07] z:map[a:123456 b:-2]] "
	  "does not contain declared merge key: name" },
	{ "unknown list directive", "{'mergingList':[{'name':'1'}]}",
	  "{'mergingList':[{'name':'1','$patch':'foo'}]}", NULL,
	  "unknown patch type: foo in map: map[$patch:foo name:1]" },
	{ "merge directive in a list", "{'mergingList':[{'name':'1'}]}",
	  "{'mergingList':[{'$patch':'merge'}]}", NULL,
	  "merging lists cannot yet be specified in the patch" },
	{ "merge directive on a map", "{'simpleMap':{'a':'1'}}",
	  "{'simpleMap':{'$patch':'merge','b':'2'}}", NULL,
	  "unknown patch type: merge in map: map[$patch:merge b:2]" },
	{ "number directive", "{}", "{'$patch':1}", NULL,
	  "unknown patch type: %!s(int64=1) in map: map[$patch:1]" },
	{ "lists of lists", "{'mergingIntList':[[1]]}", "{'mergingIntList':[[2]]}", NULL,
	  "lists of lists are not supported" },
	{ "mixed item types", "{'mergingIntList':[1,2]}", "{'mergingIntList':['a']}", NULL,
	  "list element types are not identical: [[1 2] [a]]" },
	{ "integer and float differ", "{'mergingIntList':[1]}", "{'mergingIntList':[1.5]}", NULL,
	  "list element types are not identical: [[1] [1.5]]" },
	{ "null item", "{'mergingIntList':[1]}", "{'mergingIntList':[null]}", NULL,
	  "list element types are not identical: [[1] [<nil>]]" },
	{ "string among maps", "{'mergingList':[{'name':'1'}]}", "{'mergingList':['x']}", NULL,
	  "list element types are not identical: [[map[name:1]] [x]]" },
	{ "malformed delete list key", "{'mergingIntList':[1]}",
	  "{'$deleteFromPrimitiveListX/mergingIntList':[1]}", NULL,
	  "invalid patch format of primitive list" },
	{ "merge strategy without merge key", "{'mergingListWithoutKey':[{'name':'1'}]}",
	  "{'mergingListWithoutKey':[{'name':'2'}]}", NULL,
	  "cannot merge lists without merge key for struct" },
	{ "patch not an object", "{}", "[]", NULL,
	  "json: cannot unmarshal array into Go value of type map[string]interface {}" },
	{ "target not an object", "'x'", "{}", NULL,
	  "json: cannot unmarshal string into Go value of type map[string]interface {}" },
};

static void
run_case(void **state)
{
	const struct scase *c = *state;
	json_t *original = tjson(c->original), *patch = tjson(c->patch), *result = NULL;
	struct tsnap so = tsnap_take(original), sp = tsnap_take(patch);
	korch_error *err = NULL;
	int r = patch_strategic_merge(original, patch, &merge_item, &result, &err);
	if (c->result) {
		if (r < 0)
			fail_msg("unexpected error: %s", korch_error_message(err));
		assert_json_equal(result, c->result);
	} else {
		assert_int_equal(r, KORCH_EINVALID);
		assert_null(result);
		assert_string_equal(korch_error_message(err), c->error);
		korch_error_free(err);
	}
	tsnap_check(&so);
	tsnap_check(&sp);
	json_decref(result);
	json_decref(original);
	json_decref(patch);
}

/* Existing members keep their place and new ones come last, so a manifest's order survives. */
static void
test_member_order(void **state)
{
	json_t *original = tjson("{'value':'1','simpleMap':{'y':'1'},'name':'a'}");
	json_t *patch = tjson("{'other':'o','simpleMap':{'x':'2'},'value':'3'}"), *result = NULL;
	assert_int_equal(patch_strategic_merge(original, patch, &merge_item, &result, NULL), 0);
	assert_json_text(result,
			 "{'value':'3','simpleMap':{'y':'1','x':'2'},'name':'a','other':'o'}");
	json_decref(result);
	json_decref(original);
	json_decref(patch);
}

/* The result shares nothing with the patch. */
static void
test_result_is_new(void **state)
{
	json_t *original = tjson("{'mergingList':[{'name':'1'}]}");
	json_t *patch = tjson("{'mergingList':[{'name':'2','mergingIntList':[1]}],"
			      "'simpleMap':{'k':'v'}}");
	json_t *result = NULL;
	assert_int_equal(patch_strategic_merge(original, patch, &merge_item, &result, NULL), 0);
	json_t *item = json_array_get(json_object_get(result, "mergingList"), 0);
	json_array_append_new(json_object_get(item, "mergingIntList"), json_integer(2));
	json_object_set_new(json_object_get(result, "simpleMap"), "k2", json_string("v2"));
	assert_json_text(patch, "{'mergingList':[{'name':'2','mergingIntList':[1]}],"
				"'simpleMap':{'k':'v'}}");
	assert_json_text(original, "{'mergingList':[{'name':'1'}]}");
	json_decref(result);
	json_decref(original);
	json_decref(patch);
}

/* The hand-built schema must be sorted, or the field lookup (a bsearch) would miss fields. */
static void
test_schema_sorted(void **state)
{
	for (size_t i = 1; i < ARRAY_SIZE(merge_item_fields); i++)
		assert_true(strcmp(merge_item_fields[i - 1].name, merge_item_fields[i].name) < 0);
	for (size_t i = 1; i < ARRAY_SIZE(retain_keys_item_fields); i++)
		assert_true(strcmp(retain_keys_item_fields[i - 1].name,
				   retain_keys_item_fields[i].name) < 0);
}

/* A list of n maps named "i<k>" with value k. */
static json_t *
long_list(size_t n, bool reversed, bool names_only)
{
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		size_t k = reversed ? n - 1 - i : i;
		char name[32];
		snprintf(name, sizeof(name), "i%zu", k);
		json_t *item = json_pack("{s:s}", "name", name);
		if (!names_only)
			json_object_set_new(item, "value", json_sprintf("%zu", k));
		json_array_append_new(list, item);
	}
	return list;
}

/*
 * Long lists: a full reorder of 5000 items with one item changed, which Kubernetes' quadratic
 * lookups make slow; here it is hashed. Prints the time it took as a TAP comment.
 */
static void
test_long_list(void **state)
{
	size_t n = 5000;
	json_t *original = json_pack("{s:o}", "mergingList", long_list(n, false, false));
	json_t *patch =
		json_pack("{s:o,s:[{s:s,s:s}]}", "$setElementOrder/mergingList",
			  long_list(n, true, true), "mergingList", "name", "i7", "other", "x");
	json_t *result = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(patch_strategic_merge(original, patch, &merge_item, &result, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# strategic merge of a %zu-item list reordered: %.1f ms\n", n,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	json_t *list = json_object_get(result, "mergingList");
	assert_int_equal(json_array_size(list), n);
	for (size_t i = 0; i < n; i++) {
		json_t *item = json_array_get(list, i);
		assert_int_equal(atoi(json_string_value(json_object_get(item, "value"))),
				 n - 1 - i);
	}
	json_t *changed = json_array_get(list, n - 1 - 7);
	assert_string_equal(json_string_value(json_object_get(changed, "other")), "x");
	json_decref(result);
	json_decref(original);
	json_decref(patch);
}

/* A small deterministic generator of documents and patches over the mergeItem schema. */
static unsigned long rnd_state = 1;

static unsigned
rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(rnd_state >> 33) % n;
}

static const char *const rnd_lists[] = { "mergingList",           "nonMergingList",
					 "mergeItemPtr",          "retainKeysMergingList",
					 "mergingListWithoutKey", "mergingIntList",
					 "nonMergingIntList",     "extra" };
static const char *const rnd_fields[] = { "name", "value", "other", "simpleMap", "mergingIntList" };

static json_t *rnd_item(int depth, bool patch);

static json_t *
rnd_scalar(bool patch)
{
	switch (rnd(patch ? 6 : 5)) {
	case 0: return json_string((const char *[]){ "a", "b", "c" }[rnd(3)]);
	case 1: return json_integer(rnd(4));
	case 2: return json_real(1.5);
	case 3: return json_true();
	case 4: return json_string("v");
	default: return json_null();
	}
}

static json_t *
rnd_list(const char *name, int depth, bool patch)
{
	json_t *list = json_array();
	bool ints = strstr(name, "Int") != NULL;
	for (unsigned i = rnd(4); i > 0; i--) {
		json_t *item = ints ? json_integer(rnd(5)) : rnd_item(depth, patch);
		if (patch && !ints && rnd(6) == 0)
			json_object_set_new(item, "$patch",
					    json_string((const char *[]){ "delete", "replace",
									  "merge" }[rnd(3)]));
		if (rnd(20) == 0) {
			json_decref(item);
			item = rnd_scalar(patch);
		}
		json_array_append_new(list, item);
	}
	return list;
}

/* Directives, well-formed or not, on a patch map. */
static void
rnd_directives(json_t *m)
{
	char key[64];
	const char *list = rnd_lists[rnd(ARRAY_SIZE(rnd_lists))];
	if (rnd(4) == 0) {
		json_t *order = json_array();
		for (unsigned i = rnd(4); i > 0; i--)
			json_array_append_new(
				order,
				strstr(list, "Int")
					? json_integer(rnd(5))
					: json_pack("{s:s}", "name",
						    (const char *[]){ "a", "b", "c" }[rnd(3)]));
		snprintf(key, sizeof(key), "$setElementOrder%s/%s", rnd(30) ? "" : "X", list);
		if (rnd(30) == 0) {
			json_decref(order);
			order = json_string("x");
		}
		json_object_set_new(m, key, order);
	}
	if (rnd(6) == 0) {
		snprintf(key, sizeof(key), "$deleteFromPrimitiveList/%s", list);
		json_object_set_new(m, key, rnd_list("Int", 0, false));
	}
	if (rnd(6) == 0) {
		json_t *keep = json_array();
		for (unsigned i = rnd(4); i > 0; i--)
			json_array_append_new(keep, json_string(rnd_fields[rnd(5)]));
		json_object_set_new(m, "$retainKeys", keep);
	}
	if (rnd(25) == 0)
		json_object_set_new(m, "$patch", rnd_scalar(false));
}

static json_t *
rnd_item(int depth, bool patch)
{
	json_t *m = json_object();
	for (unsigned i = rnd(4); i > 0; i--) {
		const char *f = rnd_fields[rnd(4)];
		json_object_set_new(m, f,
				    streq(f, "simpleMap")
					    ? json_pack("{s:o}", "k", rnd_scalar(patch))
					    : rnd_scalar(patch));
	}
	if (depth > 0)
		for (unsigned i = rnd(3); i > 0; i--) {
			const char *l = rnd_lists[rnd(ARRAY_SIZE(rnd_lists))];
			json_object_set_new(m, l, rnd_list(l, depth - 1, patch));
		}
	if (depth > 0 && rnd(5) == 0)
		json_object_set_new(m, "retainKeysMap", rnd_item(0, patch));
	if (patch)
		rnd_directives(m);
	return m;
}

/*
 * Thousands of generated patches, most of them malformed somewhere: each either applies or
 * fails with KORCH_EINVALID and a message, never changes its inputs, and (under valgrind and
 * ASan, which run this suite) never touches memory it should not or leaks.
 */
static void
test_generated_patches(void **state)
{
	size_t applied = 0, refused = 0;
	for (int i = 0; i < 3000; i++) {
		json_t *original = rnd_item(3, false), *patch = rnd_item(3, true), *result = NULL;
		struct tsnap so = tsnap_take(original), sp = tsnap_take(patch);
		korch_error *err = NULL;
		int r = patch_strategic_merge(original, patch, &merge_item, &result, &err);
		if (r == 0) {
			assert_true(json_is_object(result));
			applied++;
		} else {
			assert_int_equal(r, KORCH_EINVALID);
			assert_null(result);
			assert_true(strlen(korch_error_message(err)) > 0);
			refused++;
		}
		korch_error_free(err);
		tsnap_check(&so);
		tsnap_check(&sp);
		json_decref(result);
		json_decref(original);
		json_decref(patch);
	}
	printf("# generated patches: %zu applied, %zu refused\n", applied, refused);
	assert_true(applied > 1000 && refused > 100);
}

static size_t
add_table(struct CMUnitTest *tests, size_t n, const char *prefix, const struct scase *cases,
	  size_t count)
{
	for (size_t i = 0; i < count; i++) {
		char *name = NULL;
		assert_true(asprintf(&name, "%s: %s", prefix, cases[i].name) > 0);
		tests[n++] = (struct CMUnitTest){ .name = name,
						  .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	}
	return n;
}

#define ADD_TABLE(prefix, table) n = add_table(tests, n, prefix, table, ARRAY_SIZE(table))

int
main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_member_order),      cmocka_unit_test(test_result_is_new),
		cmocka_unit_test(test_schema_sorted),     cmocka_unit_test(test_long_list),
		cmocka_unit_test(test_generated_patches),
	};
	struct CMUnitTest tests[256];
	size_t n = 0;
	ADD_TABLE("map", map_cases);
	ADD_TABLE("list", list_cases);
	ADD_TABLE("primitives", primitive_cases);
	ADD_TABLE("order", order_cases);
	ADD_TABLE("retainKeys", retain_cases);
	ADD_TABLE("error", error_cases);
	size_t named = n;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		tests[n++] = fixed[i];
	int r = _cmocka_run_group_tests("patch-strategic", tests, n, NULL, NULL);
	for (size_t i = 0; i < named; i++)
		free((char *)tests[i].name);
	return r;
}
